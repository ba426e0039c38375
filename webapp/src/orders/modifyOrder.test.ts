import type { Order } from "@ibkr-grpc/client";
import { ModifyOrderRequestSchema, OrderType, TimeInForce } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { declaredMessageRule, editedSchema, editFieldRules, editMessageRules } from "../test/editedRules";
import { order } from "../test/fakeBackend";
import type { ModifyValues } from "./modifyOrder";
import { modifyValuesOf, toModifyRequest, validateModification } from "./modifyOrder";
import type { RequestRules } from "./validation";
import { requestRules } from "./validation";

const WORKING = order("ord_W", { quantity: "100", limitPrice: "187.25" });
const STOP = order("ord_S", { orderType: OrderType.STOP, limitPrice: "", stopPrice: "180" });

function violations(patch: Partial<ModifyValues>, rules?: RequestRules, working: Order = WORKING): string[] {
  return validateModification(working, { ...modifyValuesOf(working), ...patch }, rules).map(
    (violation) => `${violation.field}: ${violation.description}`,
  );
}

describe("the modification request", () => {
  it("carries only what changed", () => {
    const request = toModifyRequest(WORKING, { ...modifyValuesOf(WORKING), limitPrice: "186.5" });
    expect(request.orderId).toBe("ord_W");
    expect(request.limitPrice).toBe("186.5");
    expect([request.quantity, request.stopPrice, request.trailingAmount, request.trailingPercent]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(request.timeInForce).toBe(TimeInForce.UNSPECIFIED);
  });
});

describe("the modify dialog's checks: its ModifyOrderRequest against the contract's rules", () => {
  it.each<[string, Partial<ModifyValues>, Order?]>([
    ["a new limit price", { limitPrice: "186.5" }],
    ["a smaller quantity", { quantity: "50" }],
    ["a new time in force alone", { timeInForce: TimeInForce.GTC }],
    ["a new stop price of a stop order", { stopPrice: "179.5" }, STOP],
  ])("passes %s", (_name, patch, working) => {
    expect(violations(patch, undefined, working)).toEqual([]);
  });

  it.each<[string, Partial<ModifyValues>, string[]]>([
    ["a zero quantity", { quantity: "0" }, ["quantity: must be greater than zero"]],
    ["a negative limit price", { limitPrice: "-1" }, ["limit_price: must be greater than zero"]],
    ["a limit price in exponent notation", { limitPrice: "1.8e2" }, ["limit_price: must be a plain decimal string like 187.25"]],
    ["a cleared limit price", { limitPrice: "" }, ["limit_price: is required"]],
    ["two bad values at once", { quantity: "1,000", limitPrice: "0" }, [
      "quantity: must be a plain decimal string like 187.25",
      "limit_price: must be greater than zero",
    ]],
  ])("refuses %s at the field it is about", (_name, patch, expected) => {
    expect(violations(patch)).toEqual(expected);
  });

  it("refuses a modification that changes nothing, with the rule and message the .proto declares", () => {
    const declared = declaredMessageRule(ModifyOrderRequestSchema, "quantity.some_change");
    expect(validateModification(WORKING, modifyValuesOf(WORKING))).toEqual([
      { field: "quantity", description: declared.message, ruleId: "quantity.some_change" },
    ]);
    // A value typed again as it was is no change either.
    expect(violations({ quantity: "100" })).toEqual([`quantity: ${declared.message}`]);
  });

  it("follows a field rule taken out of the descriptor: without positive_decimal a zero quantity goes", () => {
    const looser = requestRules(
      editedSchema(
        ModifyOrderRequestSchema,
        editFieldRules("quantity", (rules) => {
          rules.type = { case: undefined };
        }),
      ),
    );
    expect(violations({ quantity: "0" })).toEqual(["quantity: must be greater than zero"]);
    expect(violations({ quantity: "0" }, looser)).toEqual([]);
  });

  it("follows a message rule changed in the descriptor: a time in force change alone no longer counts", () => {
    const stricter = requestRules(
      editedSchema(
        ModifyOrderRequestSchema,
        editMessageRules((rules) => {
          const someChange = rules.cel.find((rule) => rule.id === "quantity.some_change");
          if (someChange === undefined) {
            throw new Error("order_service.proto no longer has the rule this test edits");
          }
          someChange.expression =
            "has(this.quantity) || has(this.limit_price) || has(this.stop_price) || has(this.trailing_amount) || has(this.trailing_percent)";
          someChange.message = "change a quantity or a price";
        }),
      ),
    );
    expect(violations({ timeInForce: TimeInForce.GTC })).toEqual([]);
    expect(violations({ timeInForce: TimeInForce.GTC }, stricter)).toEqual(["quantity: change a quantity or a price"]);
  });
});
