import { create } from "@bufbuild/protobuf";
import { ContractSchema, OptionRight, SecurityType, Side } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import type { SpreadLeg } from "./spreadMath";
import { describeNetPrice, netPrices, payoffRange, roundDecimal } from "./spreadMath";

function option(strike: string, right: OptionRight, expiry = "20260320"): SpreadLeg["contract"] {
  return create(ContractSchema, {
    conId: BigInt(Math.round(Number(strike) * 10) + (right === OptionRight.CALL ? 1 : 2)),
    symbol: "AAPL",
    securityType: SecurityType.OPTION,
    lastTradeDateOrContractMonth: expiry,
    strike,
    right,
    multiplier: "100",
  });
}

const leg = (strike: string, right: OptionRight, side: Side, ratio = 1): SpreadLeg => ({
  contract: option(strike, right),
  side,
  ratio,
});

// Buy the 170 put, sell the 180 put, sell the 200 call, buy the 210 call (README, Multi-leg orders).
const IRON_CONDOR = [
  leg("170", OptionRight.PUT, Side.BUY),
  leg("180", OptionRight.PUT, Side.SELL),
  leg("200", OptionRight.CALL, Side.SELL),
  leg("210", OptionRight.CALL, Side.BUY),
];

describe("net prices", () => {
  it("adds bought legs and subtracts sold ones: mid from midpoints, natural from the touches", () => {
    const quotes = [
      { bid: "0.50", ask: "0.60" },
      { bid: "1.40", ask: "1.50" },
      { bid: "1.20", ask: "1.30" },
      { bid: "0.30", ask: "0.36" },
    ];
    // mid: 0.55 - 1.45 - 1.25 + 0.33 = -1.82; natural: 0.60 - 1.40 - 1.20 + 0.36 = -1.64.
    expect(netPrices(IRON_CONDOR, quotes)).toEqual({ mid: "-1.82", natural: "-1.64" });
  });

  it("weights each leg by its ratio and is a debit when more is bought", () => {
    const ratioSpread = [leg("190", OptionRight.CALL, Side.BUY), leg("200", OptionRight.CALL, Side.SELL, 2)];
    const quotes = [
      { bid: "5.00", ask: "5.20" },
      { bid: "1.00", ask: "1.10" },
    ];
    expect(netPrices(ratioSpread, quotes)).toEqual({ mid: "3", natural: "3.2" });
  });

  it("is unknown while a leg has no bid or ask", () => {
    const quotes = [{ bid: "5.00", ask: "5.20" }, { bid: "", ask: "1.10" }];
    expect(netPrices(IRON_CONDOR.slice(0, 2), quotes)).toEqual({ mid: "", natural: "" });
    expect(netPrices([], [])).toEqual({ mid: "", natural: "" });
  });

  it("rounds to a tick half away from zero and says debit or credit", () => {
    expect(roundDecimal("1.235", 2)).toBe("1.24");
    expect(roundDecimal("-1.235", 2)).toBe("-1.24");
    expect(roundDecimal("-1.234", 2)).toBe("-1.23");
    expect(roundDecimal("2", 2)).toBe("2");
    expect(describeNetPrice("-1.2")).toBe("Credit 1.2");
    expect(describeNetPrice("0.85")).toBe("Debit 0.85");
    expect(describeNetPrice("0")).toBe("Even (0)");
  });
});

describe("max profit and loss at expiry", () => {
  it("of an iron condor sold for a credit: the credit, and the wider wing less the credit", () => {
    // Credit 1.20 a share: kept whole between 180 and 200; 10 wide wings lose 8.80 at most.
    expect(payoffRange(IRON_CONDOR, "-1.20", "2")).toEqual({
      kind: "computed",
      maxProfit: { kind: "amount", value: "240" },
      maxLoss: { kind: "amount", value: "1760" },
    });
  });

  it("of a bull call spread bought for a debit: width less debit, and the debit", () => {
    const bullCall = [leg("190", OptionRight.CALL, Side.BUY), leg("195", OptionRight.CALL, Side.SELL)];
    expect(payoffRange(bullCall, "2.10", "1")).toEqual({
      kind: "computed",
      maxProfit: { kind: "amount", value: "290" },
      maxLoss: { kind: "amount", value: "210" },
    });
  });

  it("of a bull put spread sold for a credit: the credit, and width less credit", () => {
    const bullPut = [leg("180", OptionRight.PUT, Side.SELL), leg("175", OptionRight.PUT, Side.BUY)];
    expect(payoffRange(bullPut, "-1.5", "3")).toEqual({
      kind: "computed",
      maxProfit: { kind: "amount", value: "450" },
      maxLoss: { kind: "amount", value: "1050" },
    });
  });

  it("is unbounded where the calls above the highest strike do not net out", () => {
    const longCall = [leg("190", OptionRight.CALL, Side.BUY)];
    expect(payoffRange(longCall, "4", "1")).toEqual({
      kind: "computed",
      maxProfit: { kind: "unbounded" },
      maxLoss: { kind: "amount", value: "400" },
    });
    const ratioSpread = [leg("190", OptionRight.CALL, Side.BUY), leg("200", OptionRight.CALL, Side.SELL, 2)];
    expect(payoffRange(ratioSpread, "3", "1")).toEqual({
      kind: "computed",
      maxProfit: { kind: "amount", value: "700" },
      maxLoss: { kind: "unbounded" },
    });
  });

  it("is not computed across expiries, for legs that are not options, or without a price", () => {
    const calendar = [
      leg("190", OptionRight.CALL, Side.SELL),
      { contract: option("190", OptionRight.CALL, "20260417"), side: Side.BUY, ratio: 1 },
    ];
    expect(payoffRange(calendar, "1", "1").kind).toBe("not computed");
    const stock = create(ContractSchema, { symbol: "AAPL", securityType: SecurityType.STOCK });
    expect(payoffRange([{ contract: stock, side: Side.BUY, ratio: 1 }], "1", "1").kind).toBe("not computed");
    expect(payoffRange(IRON_CONDOR, "", "1").kind).toBe("not computed");
  });
});
