import { create } from "@bufbuild/protobuf";
import type { Contract } from "@ibkr-grpc/client";
import {
  ContractSchema,
  ErrorReason,
  OptionRight,
  QuoteSchema,
  SecurityType,
  StreamOptionChainResponseSchema,
} from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { EMPTY_CHAIN, applyChainMessage, chainRows, formatDelta, formatVolatility, underlyingQuote } from "./chain";

const underlying = create(ContractSchema, { conId: 265598n, symbol: "AAPL", securityType: SecurityType.STOCK });

function option(conId: bigint, strike: string, right: OptionRight): Contract {
  return create(ContractSchema, {
    conId,
    symbol: "AAPL",
    securityType: SecurityType.OPTION,
    lastTradeDateOrContractMonth: "20260320",
    strike,
    right,
    multiplier: "100",
  });
}

const window = create(StreamOptionChainResponseSchema, {
  payload: {
    case: "window",
    value: {
      underlying,
      expiration: "20260320",
      multiplier: "100",
      referencePrice: "190.12",
      atTheMoneyStrike: "190",
      // Out of order on purpose: the rows sort by strike as numbers.
      strikes: [
        { strike: "192.5", call: option(3n, "192.5", OptionRight.CALL), put: option(4n, "192.5", OptionRight.PUT) },
        { strike: "187.5", call: option(5n, "187.5", OptionRight.CALL) },
        { strike: "190", call: option(1n, "190", OptionRight.CALL), put: option(2n, "190", OptionRight.PUT) },
      ],
    },
  },
});

function quote(contract: Contract, bid: string, ask: string, delta = "") {
  return create(QuoteSchema, { contract, bid, ask, greeks: { impliedVolatility: "0.2534", delta } });
}

describe("the option chain", () => {
  it("lists a row per strike, lowest first, the at-the-money strike marked, quotes by contract", () => {
    let state = applyChainMessage(EMPTY_CHAIN, window);
    state = applyChainMessage(
      state,
      create(StreamOptionChainResponseSchema, {
        payload: { case: "quote", value: quote(option(1n, "190", OptionRight.CALL), "3.10", "3.20", "0.5123") },
      }),
    );
    state = applyChainMessage(
      state,
      create(StreamOptionChainResponseSchema, {
        payload: {
          case: "quotes",
          value: {
            quotes: [
              quote(option(2n, "190", OptionRight.PUT), "2.90", "3.00", "-0.4877"),
              create(QuoteSchema, { contract: underlying, bid: "190.10", ask: "190.14" }),
            ],
          },
        },
      }),
    );
    const rows = chainRows(state);
    expect(rows.map((row) => [row.strike, row.atTheMoney])).toEqual([
      ["187.5", false],
      ["190", true],
      ["192.5", false],
    ]);
    expect(rows[0]?.put).toBeUndefined();
    expect(rows[1]?.call?.quote?.bid).toBe("3.10");
    expect(rows[1]?.put?.quote?.greeks?.delta).toBe("-0.4877");
    expect(rows[2]?.call?.quote).toBeUndefined();
    expect(underlyingQuote(state)?.ask).toBe("190.14");
  });

  it("says which option's line failed until a quote of it arrives, and a new window starts afresh", () => {
    let state = applyChainMessage(EMPTY_CHAIN, window);
    state = applyChainMessage(
      state,
      create(StreamOptionChainResponseSchema, {
        payload: {
          case: "subscriptionError",
          value: { contract: option(3n, "192.5", OptionRight.CALL), reason: ErrorReason.IB_MARKET_DATA_ERROR, message: "no data" },
        },
      }),
    );
    expect(chainRows(state)[2]?.call?.problem).toBe("IB_MARKET_DATA_ERROR: no data");
    state = applyChainMessage(
      state,
      create(StreamOptionChainResponseSchema, {
        payload: { case: "quote", value: quote(option(3n, "192.5", OptionRight.CALL), "1", "1.1") },
      }),
    );
    expect(chainRows(state)[2]?.call?.problem).toBe("");
    expect(applyChainMessage(state, window).quotes.size).toBe(0);
  });

  it("formats IV as a percentage and delta to two places", () => {
    expect(formatVolatility("0.2534")).toBe("25.3%");
    expect(formatVolatility("")).toBe("");
    expect(formatDelta("-0.4877")).toBe("-0.49");
  });
});
