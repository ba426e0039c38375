// One contract's order book as StreamMarketDepth keeps it: the book first, then the levels that
// changed, each set by price (a size of "0" removes it). Bids best (highest) first, asks best
// (lowest) first, at most the rows asked for a side.
import type { MarketDepthLevel, StreamMarketDepthResponse } from "@ibkr-grpc/client";
import { compareDecimalStrings, parseDecimal, sign } from "../lib/decimal";

export interface DepthBook {
  readonly bids: readonly MarketDepthLevel[];
  readonly asks: readonly MarketDepthLevel[];
}

export const EMPTY_DEPTH_BOOK: DepthBook = { bids: [], asks: [] };

function isGone(level: MarketDepthLevel): boolean {
  const size = parseDecimal(level.size);
  return size === undefined || sign(size) === 0;
}

/** `levels` with each of `changes` set by price, best first, at most `rows` of them. */
export function applyLevels(
  levels: readonly MarketDepthLevel[],
  changes: readonly MarketDepthLevel[],
  side: "bid" | "ask",
  rows: number,
): MarketDepthLevel[] {
  let next = [...levels];
  for (const change of changes) {
    next = next.filter((level) => compareDecimalStrings(level.price, change.price) !== 0);
    if (!isGone(change)) {
      next.push(change);
    }
  }
  const direction = side === "bid" ? -1 : 1;
  return next.sort((left, right) => direction * compareDecimalStrings(left.price, right.price)).slice(0, rows);
}

/** The book after one message; heartbeats and markers leave it as it is. */
export function applyDepthMessage(book: DepthBook, message: StreamMarketDepthResponse, rows: number): DepthBook {
  const { payload } = message;
  if (payload.case === "book") {
    return {
      bids: applyLevels([], payload.value.bids, "bid", rows),
      asks: applyLevels([], payload.value.asks, "ask", rows),
    };
  }
  if (payload.case === "update") {
    return {
      bids: applyLevels(book.bids, payload.value.bids, "bid", rows),
      asks: applyLevels(book.asks, payload.value.asks, "ask", rows),
    };
  }
  return book;
}
