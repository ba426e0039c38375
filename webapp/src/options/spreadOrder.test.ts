import { create } from "@bufbuild/protobuf";
import { ContractSchema, OptionRight, OrderType, PlaceOrderRequestSchema, SecurityType, Side } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { editedSchema, editFieldRules, editMessageRules, declaredMessageRule } from "../test/editedRules";
import type { RequestRules } from "../orders/validation";
import { requestRules } from "../orders/validation";
import type { SpreadForm } from "./spreadOrder";
import type { SpreadLeg } from "./spreadMath";
import { toSpreadOrderRequest, validateSpread, withLeg } from "./spreadOrder";

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

  it("adds a picked option, or changes the side of one already a leg", () => {
    const legs = withLeg(form.legs, leg(13n, Side.SELL));
    expect(legs.map((entry) => entry.contract.conId)).toEqual([11n, 12n, 13n]);
    const flipped = withLeg(legs, leg(11n, Side.SELL));
    expect(flipped.map((entry) => entry.side)).toEqual([Side.SELL, Side.SELL, Side.SELL]);
    expect(flipped[1]?.ratio).toBe(2);
  });
});

const CONDOR: SpreadForm = {
  account: "",
  legs: [leg(21n, Side.BUY), leg(22n, Side.SELL), leg(23n, Side.SELL), leg(24n, Side.BUY)],
  quantity: "1",
  limitPrice: "-1.80",
};

const ONE_ACCOUNT = { managedAccounts: ["DU1"] };

function spreadViolations(patch: Partial<SpreadForm>, context = ONE_ACCOUNT, rules?: RequestRules): string[] {
  return validateSpread({ ...CONDOR, ...patch }, context, rules).map((violation) => `${violation.field}: ${violation.description}`);
}

describe("the spread ticket's checks: its PlaceOrderRequest against the contract's rules", () => {
  it("passes a condor for a credit, a debit spread and a 1x2 ratio spread", () => {
    expect(spreadViolations({})).toEqual([]);
    expect(spreadViolations({ legs: [leg(11n, Side.BUY), leg(12n, Side.SELL)], limitPrice: "2.15", quantity: "10" })).toEqual([]);
    expect(spreadViolations({ legs: [leg(11n, Side.BUY), leg(12n, Side.SELL, 2)], limitPrice: "0" })).toEqual([]);
  });

  it.each<[string, Partial<SpreadForm>, string[]]>([
    ["one leg", { legs: [leg(11n, Side.BUY)] }, ["legs: a multi-leg order has 2 to 8 legs"]],
    ["a contract twice", { legs: [leg(11n, Side.BUY), leg(11n, Side.SELL)] }, ["legs: each leg must be a different contract"]],
    [
      "a ratio of 0",
      { legs: [leg(11n, Side.BUY), leg(12n, Side.SELL, 0)] },
      ["legs[1].ratio: must be greater than or equal to 1 and less than or equal to 1000"],
    ],
    [
      "a leg without its con_id",
      { legs: [leg(11n, Side.BUY), leg(0n, Side.SELL)] },
      ["legs[1].contract.symbol: is required unless con_id is given", "legs[1].contract.con_id: is required for a leg (IB's legs are by conId)"],
    ],
    ["no limit price", { limitPrice: "" }, ["limit_price: is required for LIMIT orders"]],
    ["a limit price in exponent notation", { limitPrice: "-1e0" }, ["limit_price: must be a plain decimal string like 187.25"]],
    ["a zero quantity", { quantity: "0" }, ["quantity: must be greater than zero"]],
    ["part of a combination", { quantity: "1.5" }, ["quantity: a multi-leg order trades whole combinations"]],
  ])("refuses %s at the field it is about", (_name, patch, expected) => {
    expect(spreadViolations(patch)).toEqual(expected);
  });

  it("asks for the legs when none is picked (by hand: without legs the request is a single-instrument order)", () => {
    expect(validateSpread({ ...CONDOR, legs: [] }, ONE_ACCOUNT)).toEqual([
      { field: "legs", description: "pick 2 to 8 legs in the chain", ruleId: "client.legs.picked" },
    ]);
  });

  it("needs an account when the gateway manages several (by hand, as on the order ticket)", () => {
    expect(spreadViolations({}, { managedAccounts: ["DU1", "DU2"] })).toEqual([
      "account: is required: the gateway manages more than one account",
    ]);
    expect(spreadViolations({ account: "DU2" }, { managedAccounts: ["DU1", "DU2"] })).toEqual([]);
  });

  it("reports a rule with the id and the message order_service.proto declares for it", () => {
    const declared = declaredMessageRule(PlaceOrderRequestSchema, "legs.count");
    const [violation] = validateSpread({ ...CONDOR, legs: CONDOR.legs.slice(0, 1) }, ONE_ACCOUNT);
    expect(violation).toEqual({ field: "legs", description: declared.message, ruleId: declared.id });
    const [whole] = validateSpread({ ...CONDOR, quantity: "2.5" }, ONE_ACCOUNT);
    expect(whole?.ruleId).toBe("order.quantity.whole_combinations");
    expect(whole?.description).toBe(declaredMessageRule(PlaceOrderRequestSchema, "order.quantity.whole_combinations").message);
  });

  it("follows a cross-field rule changed in the descriptor: at most 3 legs refuses the condor", () => {
    const threeLegs = requestRules(
      editedSchema(
        PlaceOrderRequestSchema,
        editMessageRules((rules) => {
          const count = rules.cel.find((rule) => rule.id === "legs.count");
          if (count === undefined) {
            throw new Error("order_service.proto no longer has the rule this test edits");
          }
          count.expression = "size(this.legs) == 0 || size(this.legs) >= 2 && size(this.legs) <= 3";
          count.message = "a multi-leg order has 2 to 3 legs";
        }),
      ),
    );
    expect(spreadViolations({}, ONE_ACCOUNT, threeLegs)).toEqual(["legs: a multi-leg order has 2 to 3 legs"]);
    expect(spreadViolations({ legs: CONDOR.legs.slice(0, 3) }, ONE_ACCOUNT, threeLegs)).toEqual([]);
  });

  it("follows a leg's field rule changed in the descriptor: a ratio of at most 2 refuses 1x3", () => {
    const ratioUpToTwo = requestRules(
      editedSchema(
        PlaceOrderRequestSchema,
        editFieldRules("ratio", (rules) => {
          if (rules.type.case !== "int32") {
            throw new Error("OrderLeg.ratio no longer has the int32 rule this test edits");
          }
          rules.type.value.lessThan = { case: "lte", value: 2 };
        }),
        "OrderLeg",
      ),
    );
    const oneByThree = { legs: [leg(11n, Side.BUY), leg(12n, Side.SELL, 3)] };
    expect(spreadViolations(oneByThree)).toEqual([]);
    expect(spreadViolations(oneByThree, ONE_ACCOUNT, ratioUpToTwo)).toEqual([
      "legs[1].ratio: must be greater than or equal to 1 and less than or equal to 2",
    ]);
  });
});
