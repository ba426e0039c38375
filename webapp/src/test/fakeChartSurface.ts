// A chart surface that records what PriceChart asked it to draw: happy-dom has no canvas for the
// real lightweight-charts.
import type { Candle, PriceLevel } from "../market/bars";
import type { ChartSurface, ChartSurfaceFactory } from "../market/chartSurface";
import type { ChartSurfaceLoader } from "../market/surfaceContext";

export class FakeChartSurface implements ChartSurface {
  candles: Candle[] = [];
  precision = 0;
  levels: readonly PriceLevel[] = [];
  setCandlesCalls = 0;
  updateCalls = 0;
  disposed = false;
  hover: ((time: number | undefined) => void) | undefined;

  setCandles(candles: readonly Candle[], precision: number): void {
    this.candles = [...candles];
    this.precision = precision;
    this.setCandlesCalls += 1;
  }

  updateCandle(candle: Candle): void {
    const last = this.candles[this.candles.length - 1];
    if (last !== undefined && last.time === candle.time) {
      this.candles[this.candles.length - 1] = candle;
    } else {
      this.candles.push(candle);
    }
    this.updateCalls += 1;
  }

  setPriceLevels(levels: readonly PriceLevel[]): void {
    this.levels = levels;
  }

  onHover(listener: (time: number | undefined) => void): void {
    this.hover = listener;
  }

  dispose(): void {
    this.disposed = true;
  }
}

/** A loader handing out fake surfaces, the newest last in `surfaces`. */
export function fakeChartSurfaces(): { loader: ChartSurfaceLoader; surfaces: FakeChartSurface[] } {
  const surfaces: FakeChartSurface[] = [];
  const factory: ChartSurfaceFactory = () => {
    const surface = new FakeChartSurface();
    surfaces.push(surface);
    return surface;
  };
  return { loader: () => Promise.resolve(factory), surfaces };
}
