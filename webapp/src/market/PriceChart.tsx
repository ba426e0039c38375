// A trader's price chart of one contract: candlesticks with volume, axes and crosshair, bar size
// and span pickers, the newest candle following the live last price, and the position's average
// price and the working orders drawn as price lines. Bars come from GetHistoricalBars (read and
// cached by connect-query), live prices from the app's quote stream.
import { skipToken, useQuery } from "@connectrpc/connect-query";
import type { Bar, Contract, GetHistoricalBarsResponse } from "@ibkr-grpc/client";
import { BarSource, MarketDataService, SecurityType } from "@ibkr-grpc/client";
import { useEffect, useRef, useState } from "react";
import { describeError } from "../api/apiError";
import { ErrorPanel } from "../components/ErrorPanel";
import { TickValue } from "../components/TickValue";
import { formatDecimal, signClass } from "../lib/decimal";
import { contractKey, contractLabel, sameContract } from "../state/contracts";
import { useOrderBook, usePortfolio } from "../state/LiveData";
import { isWorking } from "../state/orderBook";
import type { Candle, LiveSeries } from "./bars";
import { BAR_CHOICES, SPAN_CHOICES, SPANS_FOR_BAR, applyTrade, priceLevels, pricePrecision, toCandles, tradeOf } from "./bars";
import { percentChange } from "./change";
import type { ChartSurface } from "./chartSurface";
import { useChartSurfaceLoader } from "./surfaceContext";
import { useLiveQuote } from "./useLiveQuote";

export interface PriceChartProps {
  readonly contract: Contract;
  /** The bar size the chart opens with (an id of BAR_CHOICES). */
  readonly initialBar?: string;
  readonly height?: number;
}

/** How long loaded bars are used before they are read again (on a new chart or focus). */
const BARS_STALE_MS = 60_000;

interface Loaded {
  readonly requestKey: string;
  readonly response: GetHistoricalBarsResponse;
  readonly bars: readonly Bar[];
  readonly series: LiveSeries;
  /** The quote last folded in, so each quote is applied once. */
  readonly appliedQuote: unknown;
}

function useSurface(container: React.RefObject<HTMLDivElement | null>): ChartSurface | undefined {
  const load = useChartSurfaceLoader();
  const [surface, setSurface] = useState<ChartSurface | undefined>(undefined);
  useEffect(() => {
    let created: ChartSurface | undefined;
    let cancelled = false;
    void load().then((factory) => {
      if (!cancelled && container.current !== null) {
        created = factory(container.current);
        setSurface(created);
      }
    });
    return () => {
      cancelled = true;
      created?.dispose();
      setSurface(undefined);
    };
  }, [load, container]);
  return surface;
}

function formatVolume(volume: number): string {
  return volume >= 1_000_000
    ? `${(volume / 1_000_000).toFixed(2)}M`
    : volume >= 10_000
      ? `${(volume / 1000).toFixed(1)}K`
      : String(Math.round(volume));
}

function Legend({ candle, hovered }: { readonly candle: Candle | undefined; readonly hovered: boolean }) {
  if (candle === undefined) {
    return null;
  }
  const time = new Date(candle.time * 1000).toLocaleString(undefined, { hour12: false, dateStyle: "short", timeStyle: "short" });
  return (
    <div className="chart-legend" data-testid="chart-legend">
      <span className="muted">{hovered ? time : `${time} (latest)`}</span> O {candle.open} H {candle.high} L {candle.low} C{" "}
      {hovered ? candle.close : candle.closeText} V {formatVolume(candle.volume)}
    </div>
  );
}

export function PriceChart({ contract, initialBar = "5m", height = 320 }: PriceChartProps) {
  const [barId, setBarId] = useState(initialBar);
  const spans = SPANS_FOR_BAR[barId] ?? ["1d"];
  const [spanId, setSpanId] = useState(spans[0] ?? "1d");
  const span = spans.includes(spanId) ? spanId : (spans[0] ?? "1d");
  const bar = BAR_CHOICES.find((choice) => choice.id === barId) ?? BAR_CHOICES[1];
  const spanChoice = SPAN_CHOICES.find((choice) => choice.id === span) ?? SPAN_CHOICES[0];
  const requestKey = `${contractKey(contract)}|${barId}|${span}`;

  const bars = useQuery(
    MarketDataService.method.getHistoricalBars,
    bar === undefined || spanChoice === undefined
      ? skipToken
      : {
          contract,
          barSize: bar.barSize,
          span: { count: spanChoice.count, unit: spanChoice.unit },
          source: contract.securityType === SecurityType.FOREX ? BarSource.MIDPOINT : BarSource.TRADES,
        },
    // History changes only at the right edge, which the live quotes move meanwhile.
    { staleTime: BARS_STALE_MS },
  );
  const [loaded, setLoaded] = useState<Loaded | undefined>(undefined);
  const [hoverTime, setHoverTime] = useState<number | undefined>(undefined);
  const container = useRef<HTMLDivElement>(null);
  const surface = useSurface(container);
  const { quote } = useLiveQuote(contract);
  const portfolio = usePortfolio();
  const { orders } = useOrderBook();

  // New bars (another contract, bar size or span, or a refetch) start the live series again.
  const response = bars.data;
  if (response !== undefined && loaded?.response !== response) {
    setLoaded({
      requestKey,
      response,
      bars: response.bars,
      series: { candles: toCandles(response.bars), dayVolume: undefined },
      appliedQuote: undefined,
    });
  }

  const current = loaded?.requestKey === requestKey && loaded.response === response ? loaded : undefined;
  // Each new quote moves the newest candle once (derived while rendering, from the last quote
  // applied).
  if (current !== undefined && bar !== undefined && quote !== current.appliedQuote) {
    const trade = tradeOf(quote, current.series.candles.at(-1)?.time ?? 0);
    // The first trade only sets the day's running volume: bar volume counts from there.
    const series = trade === undefined ? current.series : applyTrade(current.series, trade, bar.seconds);
    setLoaded({ ...current, series, appliedQuote: quote });
  }
  const candles = current?.series.candles ?? [];

  // Draw: the whole series when it is new, else only the newest candle.
  const drawn = useRef<{ surface: ChartSurface; response: GetHistoricalBarsResponse; count: number } | undefined>(
    undefined,
  );
  useEffect(() => {
    if (surface === undefined || current === undefined) {
      return;
    }
    const candles = current.series.candles;
    const last = candles[candles.length - 1];
    const previous = drawn.current;
    if (
      previous !== undefined &&
      previous.surface === surface &&
      previous.response === current.response &&
      last !== undefined &&
      (candles.length === previous.count || candles.length === previous.count + 1)
    ) {
      surface.updateCandle(last);
    } else {
      surface.setCandles(candles, pricePrecision(current.bars));
    }
    drawn.current = { surface, response: current.response, count: candles.length };
  }, [surface, current]);

  useEffect(() => {
    surface?.onHover(setHoverTime);
  }, [surface]);

  const positions = [...portfolio.current.positions.values()].filter(
    (position) => position.contract !== undefined && sameContract(contract, position.contract),
  );
  const working = [...orders.values()].filter(
    (order) => isWorking(order) && order.contract !== undefined && sameContract(contract, order.contract),
  );
  const levels = priceLevels(positions, working);
  const levelsKey = JSON.stringify(levels);
  useEffect(() => {
    surface?.setPriceLevels(JSON.parse(levelsKey) as typeof levels);
  }, [surface, levelsKey]);

  const label = contractLabel(contract);
  const hovered = hoverTime === undefined ? undefined : candles.find((candle) => candle.time === hoverTime);
  const lastCandle = candles[candles.length - 1];
  const change = quote === undefined ? "" : percentChange(quote.last, quote.close);
  const failure = bars.error === null ? undefined : describeError(bars.error);

  return (
    <section className="panel chart-panel" aria-label={`Chart ${label}`} data-testid="price-chart">
      <div className="chart-head">
        <h2>{label}</h2>
        {quote !== undefined && quote.last !== "" && (
          <span className="chart-last">
            <TickValue value={quote.last} className="num" testId="chart-last" />{" "}
            <span className={`num ${signClass(change)}`}>{change === "" ? "" : `${formatDecimal(change, { signed: true })} %`}</span>
          </span>
        )}
        <div className="segmented" role="group" aria-label="Bar size">
          {BAR_CHOICES.map((choice) => (
            <button
              key={choice.id}
              type="button"
              aria-pressed={choice.id === barId}
              data-testid={`chart-bar-${choice.id}`}
              onClick={() => {
                setBarId(choice.id);
              }}
            >
              {choice.label}
            </button>
          ))}
        </div>
        <select
          aria-label="Span"
          data-testid="chart-span"
          value={span}
          onChange={(event) => {
            setSpanId(event.target.value);
          }}
        >
          {spans.map((id) => (
            <option key={id} value={id}>
              {SPAN_CHOICES.find((choice) => choice.id === id)?.label ?? id}
            </option>
          ))}
        </select>
      </div>
      <Legend candle={hovered ?? lastCandle} hovered={hovered !== undefined} />
      {failure !== undefined && <ErrorPanel error={failure} testId="chart-error" />}
      <div
        ref={container}
        className="chart-canvas"
        style={{ height }}
        role="img"
        aria-label={`${label} candlesticks, ${bar?.label ?? ""} bars over ${spanChoice?.label ?? ""}`}
        data-testid="chart-canvas"
        data-candles={candles.length}
        data-last-close={lastCandle?.closeText ?? ""}
        data-last-time={lastCandle?.time ?? ""}
        data-price-lines={levels.map((level) => `${level.title}@${level.priceText}`).join(";")}
      />
      {current === undefined && failure === undefined && <p className="muted">Loading bars…</p>}
      {current !== undefined && candles.length === 0 && <p className="muted">No bars for this span.</p>}
    </section>
  );
}
