// The spread ticket's form: its checks before anything is sent, and the one PlaceOrderRequest
// (legs, quantity of combinations, signed net limit price) it submits.
import { create } from "@bufbuild/protobuf";
import type { PlaceOrderRequest } from "@ibkr-grpc/client";
import { ContractSchema, OrderLegSchema, OrderType, PlaceOrderRequestSchema, Side, TimeInForce } from "@ibkr-grpc/client";
import { isPlainDecimal, parseDecimal, sign } from "../lib/decimal";
import type { SpreadLeg } from "./spreadMath";

export interface SpreadForm {
  readonly account: string;
  readonly legs: readonly SpreadLeg[];
  /** Whole combinations. */
  readonly quantity: string;
  /** Signed net price per combination and unit: positive a debit, negative a credit. */
  readonly limitPrice: string;
}

/** The legs PlaceOrder accepts on one combination. */
export const MINIMUM_LEGS = 2;
export const MAXIMUM_LEGS = 8;

/** What keeps the form from being sent, in words; empty when it can be. */
export function spreadProblems(form: SpreadForm, managedAccounts: readonly string[]): string[] {
  const problems: string[] = [];
  if (form.legs.length < MINIMUM_LEGS || form.legs.length > MAXIMUM_LEGS) {
    problems.push(`A spread has ${MINIMUM_LEGS} to ${MAXIMUM_LEGS} legs: pick them in the chain.`);
  }
  if (form.legs.some((leg) => !Number.isInteger(leg.ratio) || leg.ratio < 1)) {
    problems.push("Each leg's ratio is a whole number, 1 or more.");
  }
  const quantity = parseDecimal(form.quantity);
  if (quantity === undefined || !isPlainDecimal(form.quantity.trim()) || sign(quantity) <= 0) {
    problems.push("Quantity: a number of combinations greater than zero.");
  }
  if (!isPlainDecimal(form.limitPrice.trim())) {
    problems.push("Limit net price: a decimal number, negative for a credit (e.g. -1.20).");
  }
  if (managedAccounts.length > 1 && form.account === "") {
    problems.push("Account: pick the account to trade in.");
  }
  return problems;
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
