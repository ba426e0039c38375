import { create } from "@bufbuild/protobuf";
import type { MarketDepthLevel } from "@ibkr-grpc/client";
import { MarketDepthLevelSchema, StreamMarketDepthResponseSchema } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { EMPTY_DEPTH_BOOK, applyDepthMessage } from "./depthBook";

const level = (price: string, size: string): MarketDepthLevel => create(MarketDepthLevelSchema, { price, size });
const prices = (levels: readonly MarketDepthLevel[]) => levels.map((entry) => `${entry.price}x${entry.size}`);

function book(bids: MarketDepthLevel[], asks: MarketDepthLevel[]) {
  return create(StreamMarketDepthResponseSchema, { payload: { case: "book", value: { bids, asks } } });
}

function update(bids: MarketDepthLevel[], asks: MarketDepthLevel[]) {
  return create(StreamMarketDepthResponseSchema, { payload: { case: "update", value: { bids, asks } } });
}

describe("the depth book", () => {
  const first = applyDepthMessage(
    EMPTY_DEPTH_BOOK,
    book([level("189.99", "300"), level("190.01", "100"), level("190", "200")], [level("190.05", "400"), level("190.03", "100")]),
    5,
  );

  it("starts from the book, best first on each side", () => {
    expect(prices(first.bids)).toEqual(["190.01x100", "190x200", "189.99x300"]);
    expect(prices(first.asks)).toEqual(["190.03x100", "190.05x400"]);
  });

  it("sets each changed level by price, removes a level whose size is 0 and adds new ones in place", () => {
    const next = applyDepthMessage(
      first,
      // "190.00" is the level "190": prices compare as numbers.
      update([level("190.00", "250"), level("190.01", "0"), level("189.98", "50")], [level("190.04", "75")]),
      5,
    );
    expect(prices(next.bids)).toEqual(["190.00x250", "189.99x300", "189.98x50"]);
    expect(prices(next.asks)).toEqual(["190.03x100", "190.04x75", "190.05x400"]);
  });

  it("keeps at most the rows asked for, dropping the worst", () => {
    const next = applyDepthMessage(first, update([level("190.02", "10")], []), 3);
    expect(prices(next.bids)).toEqual(["190.02x10", "190.01x100", "190x200"]);
  });

  it("is unchanged by a heartbeat, and replaced whole by a new book", () => {
    const heartbeat = create(StreamMarketDepthResponseSchema, { payload: { case: "heartbeat", value: {} } });
    expect(applyDepthMessage(first, heartbeat, 5)).toBe(first);
    const replaced = applyDepthMessage(first, book([level("150", "1")], []), 5);
    expect(prices(replaced.bids)).toEqual(["150x1"]);
    expect(replaced.asks).toEqual([]);
  });
});
