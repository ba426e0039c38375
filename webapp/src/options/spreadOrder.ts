// The spread ticket's form: the one PlaceOrderRequest (legs, quantity of combinations, signed net
// limit price) it submits, and that request's checks against the contract before it is sent.
import { create } from "@bufbuild/protobuf";
import type { PlaceOrderRequest } from "@ibkr-grpc/client";
import { ContractSchema, OrderLegSchema, OrderType, PlaceOrderRequestSchema, Side, TimeInForce } from "@ibkr-grpc/client";
import type { RequestRules, ValidationContext, Violation } from "../orders/validation";
import { contractViolations, managedAccountViolations, PLACE_ORDER_RULES } from "../orders/validation";
import type { SpreadLeg } from "./spreadMath";

export interface SpreadForm {
  readonly account: string;
  readonly legs: readonly SpreadLeg[];
  /** Whole combinations. */
  readonly quantity: string;
  /** Signed net price per combination and unit: positive a debit, negative a credit. */
  readonly limitPrice: string;
}

/**
 * What keeps the spread from being sent: the PlaceOrderRequest it would send, against the
 * contract's PlaceOrder rules (legs 2 to 8 and distinct, each leg's ratio 1 to 1,000, whole
 * combinations, a decimal net limit price), at the request's field paths ("legs[1].ratio",
 * "limit_price"); plus the account against the gateway's, as on the order ticket. Empty when it
 * can be sent. `rules` is for tests that change a rule.
 */
export function validateSpread(
  form: SpreadForm,
  context: ValidationContext,
  rules: RequestRules = PLACE_ORDER_RULES,
): Violation[] {
  const accounts = managedAccountViolations(form.account, context);
  if (form.legs.length === 0) {
    // By hand, as the contract cannot say it: PlaceOrderRequest also carries single-instrument
    // orders, so a request without legs is judged as one ("contract: is required"). The spread
    // ticket only ever sends legs; it asks for them instead.
    return [...accounts, { field: "legs", description: "pick 2 to 8 legs in the chain", ruleId: "client.legs.picked" }];
  }
  // The idempotency key is left out: the ticket generates it (newClientOrderId), in its format.
  return [...accounts, ...contractViolations(toSpreadOrderRequest(form, ""), rules)];
}

/**
 * One combination order: bought (side BUY), each leg with its own side and ratio, at a limit
 * net price; the legs by con_id with their security type (IB's combination legs are by conId).
 */
export function toSpreadOrderRequest(form: SpreadForm, clientOrderId: string): PlaceOrderRequest {
  return create(PlaceOrderRequestSchema, {
    account: form.account,
    side: Side.BUY,
    quantity: form.quantity.trim(),
    orderType: OrderType.LIMIT,
    limitPrice: form.limitPrice.trim(),
    timeInForce: TimeInForce.DAY,
    clientOrderId,
    legs: form.legs.map((leg) =>
      create(OrderLegSchema, {
        contract: create(ContractSchema, { conId: leg.contract.conId, securityType: leg.contract.securityType }),
        side: leg.side,
        ratio: leg.ratio,
      }),
    ),
  });
}

/** The legs with `picked` added, or its side changed when it is a leg already. */
export function withLeg(legs: readonly SpreadLeg[], picked: SpreadLeg): SpreadLeg[] {
  const existing = legs.findIndex((leg) => leg.contract.conId === picked.contract.conId);
  if (existing < 0) {
    return [...legs, picked];
  }
  return legs.map((leg, index) => (index === existing ? { ...leg, side: picked.side } : leg));
}
