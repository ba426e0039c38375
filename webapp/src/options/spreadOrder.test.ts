import { create } from "@bufbuild/protobuf";
import { ContractSchema, OptionRight, OrderType, PlaceOrderRequestSchema, SecurityType, Side } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { contractViolations, requestRules } from "../orders/validation";
import type { SpreadLeg } from "./spreadMath";
import { spreadProblems, toSpreadOrderRequest, withLeg } from "./spreadOrder";

function leg(conId: bigint, side: Side, ratio = 1): SpreadLeg {
  const contract = create(ContractSchema, {
    conId,
    symbol: "AAPL",
    securityType: SecurityType.OPTION,
    strike: "190",
    right: OptionRight.CALL,
  });
  return { contract, side, ratio };
}

describe("the spread order", () => {
  const form = { account: "", legs: [leg(11n, Side.BUY), leg(12n, Side.SELL, 2)], quantity: "3", limitPrice: "-0.45" };

  it("is one bought LIMIT order with the legs by con_id, each with its side and ratio", () => {
    const request = toSpreadOrderRequest(form, "web-1");
    expect(request.side).toBe(Side.BUY);
    expect(request.orderType).toBe(OrderType.LIMIT);
    expect([request.quantity, request.limitPrice, request.clientOrderId]).toEqual(["3", "-0.45", "web-1"]);
    expect(request.contract).toBeUndefined();
    expect(
      request.legs.map((entry) => [entry.contract?.conId, entry.contract?.securityType, entry.side, entry.ratio]),
    ).toEqual([
      [11n, SecurityType.OPTION, Side.BUY, 1],
      [12n, SecurityType.OPTION, Side.SELL, 2],
    ]);
  });

  it("needs two legs, a positive quantity, a signed decimal limit and an account among several", () => {
    expect(spreadProblems(form, ["DU1"])).toEqual([]);
    expect(spreadProblems({ ...form, legs: form.legs.slice(0, 1), quantity: "0", limitPrice: "1e3" }, ["DU1", "DU2"])).toHaveLength(4);
  });

  it("builds a request the contract's PlaceOrder rules accept, as the order ticket's are checked", () => {
    const rules = requestRules(PlaceOrderRequestSchema);
    expect(contractViolations(toSpreadOrderRequest(form, "web-1"), rules)).toEqual([]);
    const problems = (patch: Partial<typeof form>) =>
      contractViolations(toSpreadOrderRequest({ ...form, ...patch }, "web-1"), rules).map(
        (violation) => `${violation.field}: ${violation.description}`,
      );
    expect(problems({ legs: form.legs.slice(0, 1) })).toEqual(["legs: a multi-leg order has 2 to 8 legs"]);
    expect(problems({ legs: [leg(11n, Side.BUY), leg(11n, Side.SELL)] })).toEqual(["legs: each leg must be a different contract"]);
    expect(problems({ quantity: "1.5" })).toEqual(["quantity: a multi-leg order trades whole combinations"]);
    expect(problems({ legs: [leg(11n, Side.BUY), leg(12n, Side.SELL, 0)] })).toEqual([
      "legs[1].ratio: must be greater than or equal to 1 and less than or equal to 1000",
    ]);
  });

  it("adds a picked option, or changes the side of one already a leg", () => {
    const legs = withLeg(form.legs, leg(13n, Side.SELL));
    expect(legs.map((entry) => entry.contract.conId)).toEqual([11n, 12n, 13n]);
    const flipped = withLeg(legs, leg(11n, Side.SELL));
    expect(flipped.map((entry) => entry.side)).toEqual([Side.SELL, Side.SELL, Side.SELL]);
    expect(flipped[1]?.ratio).toBe(2);
  });
});
