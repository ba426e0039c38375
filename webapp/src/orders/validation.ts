// Client-side validation of an order, mirroring the server's PlaceOrder rules (order_service.proto
// and the error catalogue) so that most mistakes are caught before a round trip. Violations use
// the server's field paths ("limit_price", "take_profit.limit_price"), so server and client
// errors land on the same inputs. The server stays the authority: it validates again.
import { OrderType, Side } from "@ibkr-grpc/client";
import type { Decimal } from "../lib/decimal";
import { compare, isPlainDecimal, parseDecimal, sign } from "../lib/decimal";

/** An order as typed into the ticket: the PlaceOrderRequest's fields, all decimals as strings. */
export interface OrderDraft {
  readonly account: string;
  readonly symbol: string;
  readonly side: Side;
  readonly quantity: string;
  readonly orderType: OrderType;
  readonly limitPrice: string;
  readonly stopPrice: string;
  readonly trailingAmount: string;
  readonly trailingPercent: string;
  /** Bracket legs: the leg is part of the order when its price (or enabled flag) is set. */
  readonly takeProfitEnabled: boolean;
  readonly takeProfitLimitPrice: string;
  readonly stopLossEnabled: boolean;
  readonly stopLossStopPrice: string;
  readonly stopLossLimitPrice: string;
}

export interface Violation {
  readonly field: string;
  readonly description: string;
}

export interface ValidationContext {
  /** The gateway's managed accounts; the account is required when there is more than one. */
  readonly managedAccounts: readonly string[];
}

const PRICE_TYPES: Readonly<Record<string, { limit: "required" | "forbidden"; stop: "required" | "optional" | "forbidden"; trailing: boolean }>> = {
  [OrderType.MARKET]: { limit: "forbidden", stop: "forbidden", trailing: false },
  [OrderType.LIMIT]: { limit: "required", stop: "forbidden", trailing: false },
  [OrderType.STOP]: { limit: "forbidden", stop: "required", trailing: false },
  [OrderType.STOP_LIMIT]: { limit: "required", stop: "required", trailing: false },
  [OrderType.TRAILING_STOP]: { limit: "forbidden", stop: "optional", trailing: true },
};

/** Which price fields an order type takes, for the ticket to show only those. */
export function priceFieldsFor(orderType: OrderType) {
  return PRICE_TYPES[orderType] ?? { limit: "forbidden", stop: "forbidden", trailing: false };
}

class Collector {
  readonly violations: Violation[] = [];

  add(field: string, description: string): void {
    this.violations.push({ field, description });
  }

  /** Reads a decimal field as the server does; records a violation and returns undefined on bad input. */
  decimal(field: string, text: string, options: { required?: boolean; positive?: boolean } = {}): Decimal | undefined {
    if (text === "") {
      if (options.required === true) {
        this.add(field, "is required");
      }
      return undefined;
    }
    if (!isPlainDecimal(text)) {
      this.add(field, `must be a plain decimal string like 187.25, got "${text}"`);
      return undefined;
    }
    const value = parseDecimal(text);
    if (value !== undefined && options.positive === true && sign(value) <= 0) {
      this.add(field, "must be greater than zero");
      return undefined;
    }
    return value;
  }

  forbid(field: string, text: string, orderType: string): void {
    if (text !== "") {
      this.add(field, `is not allowed for ${orderType} orders`);
    }
  }
}

const ORDER_TYPE_NAMES: Readonly<Record<number, string>> = {
  [OrderType.MARKET]: "MARKET",
  [OrderType.LIMIT]: "LIMIT",
  [OrderType.STOP]: "STOP",
  [OrderType.STOP_LIMIT]: "STOP_LIMIT",
  [OrderType.TRAILING_STOP]: "TRAILING_STOP",
};

function validatePrices(draft: OrderDraft, collector: Collector): Decimal | undefined {
  const typeName = ORDER_TYPE_NAMES[draft.orderType] ?? "this";
  const rules = priceFieldsFor(draft.orderType);
  let limit: Decimal | undefined;
  let stop: Decimal | undefined;
  if (rules.limit === "required") {
    limit = collector.decimal("limit_price", draft.limitPrice, { required: true, positive: true });
  } else {
    collector.forbid("limit_price", draft.limitPrice, typeName);
  }
  if (rules.stop === "forbidden") {
    collector.forbid("stop_price", draft.stopPrice, typeName);
  } else {
    stop = collector.decimal("stop_price", draft.stopPrice, { required: rules.stop === "required", positive: true });
  }
  if (rules.trailing) {
    const hasAmount = draft.trailingAmount !== "";
    const hasPercent = draft.trailingPercent !== "";
    if (hasAmount === hasPercent) {
      const description = hasAmount
        ? "give trailing_amount or trailing_percent, not both"
        : "is required: give trailing_amount or trailing_percent";
      collector.add("trailing_amount", description);
    }
    collector.decimal("trailing_amount", draft.trailingAmount, { positive: true });
    collector.decimal("trailing_percent", draft.trailingPercent, { positive: true });
  } else {
    collector.forbid("trailing_amount", draft.trailingAmount, typeName);
    collector.forbid("trailing_percent", draft.trailingPercent, typeName);
  }
  // The entry price the bracket legs are checked against.
  return limit ?? stop;
}

function validateBracket(draft: OrderDraft, entry: Decimal | undefined, collector: Collector): void {
  const buy = draft.side === Side.BUY;
  const takeProfit = draft.takeProfitEnabled
    ? collector.decimal("take_profit.limit_price", draft.takeProfitLimitPrice, { required: true, positive: true })
    : undefined;
  const stopLoss = draft.stopLossEnabled
    ? collector.decimal("stop_loss.stop_price", draft.stopLossStopPrice, { required: true, positive: true })
    : undefined;
  if (draft.stopLossEnabled) {
    collector.decimal("stop_loss.limit_price", draft.stopLossLimitPrice, { positive: true });
  }
  if (takeProfit !== undefined && entry !== undefined) {
    const side = compare(takeProfit, entry);
    if (buy ? side <= 0 : side >= 0) {
      collector.add(
        "take_profit.limit_price",
        `must be ${buy ? "above" : "below"} the entry price of a ${buy ? "buy" : "sell"} bracket`,
      );
    }
  }
  if (stopLoss !== undefined && entry !== undefined) {
    const side = compare(stopLoss, entry);
    if (buy ? side >= 0 : side <= 0) {
      collector.add(
        "stop_loss.stop_price",
        `must be ${buy ? "below" : "above"} the entry price of a ${buy ? "buy" : "sell"} bracket`,
      );
    }
  }
  if (takeProfit !== undefined && stopLoss !== undefined) {
    const side = compare(takeProfit, stopLoss);
    if (buy ? side <= 0 : side >= 0) {
      collector.add(
        "take_profit.limit_price",
        `must be ${buy ? "above" : "below"} the stop-loss price of a ${buy ? "buy" : "sell"} bracket`,
      );
    }
  }
}

/** Every rule the ticket knows; an empty list means the server should accept the order's shape. */
export function validateOrder(draft: OrderDraft, context: ValidationContext): Violation[] {
  const collector = new Collector();
  if (context.managedAccounts.length > 1 && draft.account === "") {
    collector.add("account", "is required: the gateway manages more than one account");
  } else if (draft.account !== "" && context.managedAccounts.length > 0 && !context.managedAccounts.includes(draft.account)) {
    collector.add("account", "is not one of the gateway's managed accounts");
  }
  if (draft.symbol.trim() === "") {
    collector.add("contract.symbol", "is required");
  }
  if (draft.side !== Side.BUY && draft.side !== Side.SELL) {
    collector.add("side", "is required");
  }
  collector.decimal("quantity", draft.quantity, { required: true, positive: true });
  if (ORDER_TYPE_NAMES[draft.orderType] === undefined) {
    collector.add("order_type", "is required");
  } else {
    const entry = validatePrices(draft, collector);
    validateBracket(draft, entry, collector);
  }
  return collector.violations;
}

/** The first violation per field, for showing next to the inputs. */
export function violationsByField(violations: readonly Violation[]): ReadonlyMap<string, string> {
  const byField = new Map<string, string>();
  for (const violation of violations) {
    if (!byField.has(violation.field)) {
      byField.set(violation.field, violation.description);
    }
  }
  return byField;
}
