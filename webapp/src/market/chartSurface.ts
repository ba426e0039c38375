// The one place that talks to TradingView's lightweight-charts: a candlestick series with a
// volume histogram under it, the crosshair, local-time axes and price lines. PriceChart only
// sees this narrow surface, so its tests can hand it a recording fake (there is no canvas in
// happy-dom).
import type { IChartApi, IPriceLine, ISeriesApi, MouseEventParams, Time, UTCTimestamp } from "lightweight-charts";
import { CandlestickSeries, ColorType, CrosshairMode, HistogramSeries, LineStyle, createChart } from "lightweight-charts";
import type { Candle, PriceLevel } from "./bars";

export interface ChartSurface {
  setCandles(candles: readonly Candle[], precision: number): void;
  /** Replaces the newest candle or appends one after it. */
  updateCandle(candle: Candle): void;
  setPriceLevels(levels: readonly PriceLevel[]): void;
  /** Calls back with the candle under the crosshair, or undefined when it leaves. */
  onHover(listener: (time: number | undefined) => void): void;
  dispose(): void;
}

export type ChartSurfaceFactory = (container: HTMLElement) => ChartSurface;

const COLORS = {
  background: "#161b22",
  text: "#aab4c0",
  grid: "#222933",
  up: "#2fbf71",
  down: "#f0565a",
  average: "#4ea1ff",
};

/** The chart library draws UTC; shifting by the browser's offset shows local time. */
function localSeconds(utcSeconds: number): UTCTimestamp {
  const offsetMinutes = new Date(utcSeconds * 1000).getTimezoneOffset();
  return (utcSeconds - offsetMinutes * 60) as UTCTimestamp;
}

function utcSeconds(time: Time): number | undefined {
  if (typeof time !== "number") {
    return undefined;
  }
  const offsetMinutes = new Date(time * 1000).getTimezoneOffset();
  return time + offsetMinutes * 60;
}

export const createLightweightSurface: ChartSurfaceFactory = (container) => {
  const chart: IChartApi = createChart(container, {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: COLORS.background },
      textColor: COLORS.text,
      fontSize: 11,
      attributionLogo: false,
    },
    grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
    crosshair: { mode: CrosshairMode.Normal },
    rightPriceScale: { borderColor: COLORS.grid },
    timeScale: { borderColor: COLORS.grid, timeVisible: true, secondsVisible: false },
  });
  const candles: ISeriesApi<"Candlestick"> = chart.addSeries(CandlestickSeries, {
    upColor: COLORS.up,
    downColor: COLORS.down,
    borderVisible: false,
    wickUpColor: COLORS.up,
    wickDownColor: COLORS.down,
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
  const volume: ISeriesApi<"Histogram"> = chart.addSeries(HistogramSeries, {
    priceFormat: { type: "volume" },
    priceScaleId: "volume",
    lastValueVisible: false,
    priceLineVisible: false,
  });
  chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  let lines: IPriceLine[] = [];

  const volumeBar = (candle: Candle) => ({
    time: localSeconds(candle.time),
    value: candle.volume,
    color: candle.close >= candle.open ? "rgba(47, 191, 113, 0.45)" : "rgba(240, 86, 90, 0.45)",
  });
  const candleBar = (candle: Candle) => ({
    time: localSeconds(candle.time),
    open: candle.open,
    high: candle.high,
    low: candle.low,
    close: candle.close,
  });

  return {
    setCandles(data, precision) {
      candles.applyOptions({ priceFormat: { type: "price", precision, minMove: 10 ** -precision } });
      candles.setData(data.map(candleBar));
      volume.setData(data.map(volumeBar));
      chart.timeScale().fitContent();
    },
    updateCandle(candle) {
      candles.update(candleBar(candle));
      volume.update(volumeBar(candle));
    },
    setPriceLevels(levels) {
      lines.forEach((line) => {
        candles.removePriceLine(line);
      });
      lines = levels.map((level) =>
        candles.createPriceLine({
          price: level.price,
          color: level.kind === "average" ? COLORS.average : level.kind === "buy" ? COLORS.up : COLORS.down,
          lineWidth: 1,
          lineStyle: level.kind === "average" ? LineStyle.Solid : LineStyle.Dashed,
          axisLabelVisible: true,
          title: level.title,
        }),
      );
    },
    onHover(listener) {
      chart.subscribeCrosshairMove((event: MouseEventParams) => {
        listener(event.time === undefined ? undefined : utcSeconds(event.time));
      });
    },
    dispose() {
      chart.remove();
    },
  };
};
