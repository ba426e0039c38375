// The modify dialog's request: ModifyOrderRequest with only the fields that changed, checked
// against the contract's ModifyOrder rules (order_service.proto) before it is sent, and what the
// answer says about IB's confirmation.
import { create } from "@bufbuild/protobuf";
import type { ModifyOrderRequest, Order } from "@ibkr-grpc/client";
import { ModifyOrderRequestSchema, TimeInForce } from "@ibkr-grpc/client";
import { compareDecimalStrings } from "../lib/decimal";
import { orderTerms } from "../lib/orderLabels";
import type { RequestRules, Violation } from "./validation";
import { contractViolations, requestRules } from "./validation";

/** The dialog's inputs, as typed: the order's current terms until edited. */
export interface ModifyValues {
  readonly quantity: string;
  readonly limitPrice: string;
  readonly stopPrice: string;
  readonly trailingAmount: string;
  readonly trailingPercent: string;
  readonly timeInForce: TimeInForce;
}

export type ModifyDecimal = keyof Omit<ModifyValues, "timeInForce">;

/** The request's field path of each decimal input: where its violations are reported. */
export const MODIFY_FIELD_PATHS: Readonly<Record<ModifyDecimal, string>> = {
  quantity: "quantity",
  limitPrice: "limit_price",
  stopPrice: "stop_price",
  trailingAmount: "trailing_amount",
  trailingPercent: "trailing_percent",
};

const MODIFY_DECIMALS = Object.keys(MODIFY_FIELD_PATHS) as ModifyDecimal[];

/** The dialog's starting values: the order's terms. */
export function modifyValuesOf(order: Order): ModifyValues {
  return {
    quantity: order.quantity,
    limitPrice: order.limitPrice,
    stopPrice: order.stopPrice,
    trailingAmount: order.trailingAmount,
    trailingPercent: order.trailingPercent,
    timeInForce: order.timeInForce,
  };
}

/**
 * The request for what changed: a value as typed when it differs from the order's (an input
 * cleared is sent empty, for the rules to refuse), unset otherwise, as ModifyOrderRequest
 * leaves unset fields as they are.
 */
export function toModifyRequest(order: Order, values: ModifyValues): ModifyOrderRequest {
  const request = create(ModifyOrderRequestSchema, { orderId: order.orderId });
  for (const key of MODIFY_DECIMALS) {
    if (values[key] !== order[key]) {
      request[key] = values[key];
    }
  }
  if (values.timeInForce !== order.timeInForce) {
    request.timeInForce = values.timeInForce;
  }
  return request;
}

// The repository's ModifyOrder rules, compiled once for the page's life.
const MODIFY_ORDER_RULES = requestRules(ModifyOrderRequestSchema);

/**
 * Every rule of the contract the modification breaks, at the request's field paths: a changed
 * decimal not a positive plain decimal, nothing changed ("quantity: give at least one field to
 * change"). What the request cannot carry, the order's type, is the server's to check: which
 * prices the order takes; the dialog offers only those inputs. `rules` is for tests that
 * change a rule.
 */
export function validateModification(
  order: Order,
  values: ModifyValues,
  rules: RequestRules = MODIFY_ORDER_RULES,
): Violation[] {
  return contractViolations(toModifyRequest(order, values), rules);
}

/**
 * What ModifyOrder's answer says: IB confirmed the requested terms (the order carries them), or
 * the server's bounded wait ran out and the order is as IB last reported it.
 */
export function modifyOutcome(request: ModifyOrderRequest, order: Order): { confirmed: boolean; text: string } {
  const decimalsConfirmed = MODIFY_DECIMALS.every((key) => {
    const requested = request[key];
    return requested === undefined || compareDecimalStrings(requested, order[key]) === 0;
  });
  const confirmed =
    decimalsConfirmed && (request.timeInForce === TimeInForce.UNSPECIFIED || request.timeInForce === order.timeInForce);
  const terms = orderTerms(order);
  return confirmed
    ? { confirmed, text: `Modified ${order.orderId}: IB confirmed ${terms}.` }
    : {
        confirmed,
        text: `Modification of ${order.orderId} sent; IB has not confirmed the new terms yet. It stands at ${terms}.`,
      };
}
