// The chart's data: historical bars turned into candles, the live last price folded into the
// newest candle (or starting the next one), the bar sizes and spans the pickers offer, and the
// price lines (average price, working orders). Prices become JS numbers here only because
// pixels are numbers; every figure the trader reads is the API's decimal string.
import type { Bar, Order, Position, Quote } from "@ibkr-grpc/client";
import { BarSize, OrderType, Side, SpanUnit } from "@ibkr-grpc/client";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { parseDecimal } from "../lib/decimal";

export interface Candle {
  /** The bar's start, epoch seconds. */
  readonly time: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  /** The close as the API sent it (exact), for the legend. */
  readonly closeText: string;
}

export interface BarChoice {
  readonly id: string;
  readonly label: string;
  readonly barSize: BarSize;
  readonly seconds: number;
}

export const BAR_CHOICES: readonly BarChoice[] = [
  { id: "1m", label: "1m", barSize: BarSize.BAR_SIZE_1_MINUTE, seconds: 60 },
  { id: "5m", label: "5m", barSize: BarSize.BAR_SIZE_5_MINUTES, seconds: 300 },
  { id: "15m", label: "15m", barSize: BarSize.BAR_SIZE_15_MINUTES, seconds: 900 },
  { id: "1h", label: "1h", barSize: BarSize.BAR_SIZE_1_HOUR, seconds: 3600 },
  { id: "1d", label: "1D", barSize: BarSize.BAR_SIZE_1_DAY, seconds: 86_400 },
];

export interface SpanChoice {
  readonly id: string;
  readonly label: string;
  readonly count: number;
  readonly unit: SpanUnit;
}

export const SPAN_CHOICES: readonly SpanChoice[] = [
  { id: "1d", label: "1 day", count: 1, unit: SpanUnit.DAYS },
  { id: "5d", label: "5 days", count: 5, unit: SpanUnit.DAYS },
  { id: "1mo", label: "1 month", count: 1, unit: SpanUnit.MONTHS },
  { id: "6mo", label: "6 months", count: 6, unit: SpanUnit.MONTHS },
  { id: "1y", label: "1 year", count: 1, unit: SpanUnit.YEARS },
];

/**
 * The spans that make sense for a bar size: enough bars to read, and within IB's limits on how
 * many small bars one request may return.
 */
export const SPANS_FOR_BAR: Readonly<Record<string, readonly string[]>> = {
  "1m": ["1d", "5d"],
  "5m": ["1d", "5d", "1mo"],
  "15m": ["1d", "5d", "1mo"],
  "1h": ["5d", "1mo", "6mo"],
  "1d": ["1mo", "6mo", "1y"],
};

function numberOf(text: string): number | undefined {
  const value = parseDecimal(text);
  return value === undefined ? undefined : Number(text.trim());
}

/** The bars that carry prices, as candles, oldest first (one per start time). */
export function toCandles(bars: readonly Bar[]): Candle[] {
  const candles: Candle[] = [];
  for (const bar of bars) {
    const [open, high, low, close] = [bar.open, bar.high, bar.low, bar.close].map(numberOf);
    if (bar.startTime === undefined || open === undefined || high === undefined || low === undefined || close === undefined) {
      continue;
    }
    const time = Math.floor(timestampMs(bar.startTime) / 1000);
    const previous = candles[candles.length - 1];
    const candle = { time, open, high, low, close, volume: numberOf(bar.volume) ?? 0, closeText: bar.close };
    if (previous !== undefined && previous.time >= time) {
      // Out of order or repeated: the chart library needs strictly increasing times.
      continue;
    }
    candles.push(candle);
  }
  return candles;
}

/** What the live feed says: the last trade's price and time, and the day's volume so far. */
export interface Trade {
  readonly priceText: string;
  /** Epoch seconds. */
  readonly time: number;
  /** The day's cumulative volume, "" when unknown. */
  readonly dayVolumeText: string;
}

/**
 * The trade in a quote, or undefined when it has no last price. A quote without a time counts
 * at `fallbackSeconds` (the newest candle's start: it updates that candle).
 */
export function tradeOf(quote: Quote | undefined, fallbackSeconds: number): Trade | undefined {
  if (quote === undefined || parseDecimal(quote.last) === undefined) {
    return undefined;
  }
  const stamp = quote.exchangeTime ?? quote.receiveTime;
  const time = stamp === undefined ? fallbackSeconds : Math.floor(timestampMs(stamp) / 1000);
  return { priceText: quote.last, time, dayVolumeText: quote.volume };
}

export interface LiveSeries {
  readonly candles: readonly Candle[];
  /** The day volume of the last trade applied, to turn the running total into bar volume. */
  readonly dayVolume: number | undefined;
}

/**
 * Folds a trade into the candles: the newest candle's close, high and low follow it while the
 * trade falls in its interval; a trade past it starts the next candle (at its interval's start).
 * A trade older than the newest candle updates that candle, never an older one.
 */
export function applyTrade(series: LiveSeries, trade: Trade, barSeconds: number): LiveSeries {
  const price = numberOf(trade.priceText);
  const last = series.candles[series.candles.length - 1];
  if (price === undefined || last === undefined) {
    return series;
  }
  const dayVolume = numberOf(trade.dayVolumeText);
  const added =
    dayVolume !== undefined && series.dayVolume !== undefined && dayVolume >= series.dayVolume
      ? dayVolume - series.dayVolume
      : 0;
  const start = Math.floor(trade.time / barSeconds) * barSeconds;
  const candles = [...series.candles];
  if (start > last.time && barSeconds < 86_400) {
    candles.push({ time: start, open: price, high: price, low: price, close: price, volume: added, closeText: trade.priceText });
  } else {
    candles[candles.length - 1] = {
      ...last,
      high: Math.max(last.high, price),
      low: Math.min(last.low, price),
      close: price,
      volume: last.volume + added,
      closeText: trade.priceText,
    };
  }
  return { candles, dayVolume: dayVolume ?? series.dayVolume };
}

/** Digits after the point the price axis shows: the bars' own, at least 2, at most 6. */
export function pricePrecision(bars: readonly Bar[]): number {
  let precision = 2;
  for (const bar of bars.slice(-50)) {
    const fraction = bar.close.split(".")[1] ?? "";
    precision = Math.max(precision, Math.min(fraction.length, 6));
  }
  return precision;
}

export interface PriceLevel {
  readonly price: number;
  readonly priceText: string;
  readonly title: string;
  readonly kind: "average" | "buy" | "sell";
}

/** The average price of each position and the limit and stop of each working order. */
export function priceLevels(positions: readonly Position[], orders: readonly Order[]): PriceLevel[] {
  const levels: PriceLevel[] = [];
  for (const position of positions) {
    // IB's average cost of a derivative is per contract: per unit of price it is divided by the
    // multiplier.
    const multiplier = numberOf(position.contract?.multiplier ?? "") ?? 1;
    const cost = numberOf(position.averageCost);
    const price = cost === undefined || multiplier === 0 ? undefined : cost / multiplier;
    if (price !== undefined && parseDecimal(position.quantity)?.units !== 0n) {
      levels.push({ price, priceText: position.averageCost, title: `Avg ${position.quantity}`, kind: "average" });
    }
  }
  for (const order of orders) {
    const side = order.side === Side.SELL ? "sell" : "buy";
    const verb = order.side === Side.SELL ? "SELL" : "BUY";
    const limit = numberOf(order.limitPrice);
    const stop = numberOf(order.stopPrice);
    if (limit !== undefined) {
      levels.push({ price: limit, priceText: order.limitPrice, title: `${verb} ${order.remainingQuantity || order.quantity} LMT`, kind: side });
    }
    if (stop !== undefined) {
      const label = order.orderType === OrderType.TRAILING_STOP ? "TRAIL" : "STP";
      levels.push({ price: stop, priceText: order.stopPrice, title: `${verb} ${order.remainingQuantity || order.quantity} ${label}`, kind: side });
    }
  }
  return levels;
}
