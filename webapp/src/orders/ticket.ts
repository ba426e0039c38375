// The order ticket's form state, its PlaceOrderRequest, and the notional the confirmation shows.
import { create } from "@bufbuild/protobuf";
import type { PlaceOrderRequest } from "@ibkr-grpc/client";
import {
  ContractSchema,
  OptionRight,
  OrderType,
  PlaceOrderRequestSchema,
  SecurityType,
  Side,
  StopLossLegSchema,
  TakeProfitLegSchema,
  TimeInForce,
} from "@ibkr-grpc/client";
import { multiply, parseDecimal, toPlainString } from "../lib/decimal";

/** The ticket's inputs as typed: the PlaceOrderRequest's fields, every decimal as a string. */
export interface TicketForm {
  readonly account: string;
  readonly symbol: string;
  readonly side: Side;
  readonly quantity: string;
  readonly orderType: OrderType;
  readonly limitPrice: string;
  readonly stopPrice: string;
  readonly trailingAmount: string;
  readonly trailingPercent: string;
  /** Bracket legs: a leg is part of the order when it is enabled. */
  readonly takeProfitEnabled: boolean;
  readonly takeProfitLimitPrice: string;
  readonly stopLossEnabled: boolean;
  readonly stopLossStopPrice: string;
  readonly stopLossLimitPrice: string;
  readonly securityType: SecurityType;
  readonly exchange: string;
  readonly currency: string;
  /** Derivatives only. */
  readonly lastTradeDateOrContractMonth: string;
  readonly strike: string;
  readonly right: OptionRight;
  readonly multiplier: string;
  readonly timeInForce: TimeInForce;
  readonly outsideRegularHours: boolean;
}

export const EMPTY_TICKET: TicketForm = {
  account: "",
  symbol: "",
  securityType: SecurityType.STOCK,
  exchange: "SMART",
  currency: "USD",
  lastTradeDateOrContractMonth: "",
  strike: "",
  right: OptionRight.UNSPECIFIED,
  multiplier: "",
  side: Side.BUY,
  quantity: "",
  orderType: OrderType.LIMIT,
  limitPrice: "",
  stopPrice: "",
  trailingAmount: "",
  trailingPercent: "",
  timeInForce: TimeInForce.DAY,
  outsideRegularHours: false,
  takeProfitEnabled: false,
  takeProfitLimitPrice: "",
  stopLossEnabled: false,
  stopLossStopPrice: "",
  stopLossLimitPrice: "",
};

export interface PriceFields {
  readonly limit: "required" | "forbidden";
  readonly stop: "required" | "optional" | "forbidden";
  readonly trailing: boolean;
}

// Which price inputs the ticket shows for each order type. The rules that refuse a missing price
// or one an order type does not take are the contract's (order_service.proto), checked in
// validation.ts; this only lays out the form.
const PRICE_FIELDS: Readonly<Partial<Record<OrderType, PriceFields>>> = {
  [OrderType.MARKET]: { limit: "forbidden", stop: "forbidden", trailing: false },
  [OrderType.LIMIT]: { limit: "required", stop: "forbidden", trailing: false },
  [OrderType.STOP]: { limit: "forbidden", stop: "required", trailing: false },
  [OrderType.STOP_LIMIT]: { limit: "required", stop: "required", trailing: false },
  [OrderType.TRAILING_STOP]: { limit: "forbidden", stop: "optional", trailing: true },
};

/** Which price fields an order type takes, for the ticket to show only those. */
export function priceFieldsFor(orderType: OrderType): PriceFields {
  return PRICE_FIELDS[orderType] ?? { limit: "forbidden", stop: "forbidden", trailing: false };
}

/** True for the security types whose contract needs expiry (and strike, right) fields. */
export function isDerivative(securityType: SecurityType): boolean {
  return securityType === SecurityType.FUTURE || securityType === SecurityType.OPTION;
}

/** Clears the fields the order type does not take, so they are never sent by mistake. */
export function withOrderType(form: TicketForm, orderType: OrderType): TicketForm {
  const rules = priceFieldsFor(orderType);
  return {
    ...form,
    orderType,
    limitPrice: rules.limit === "forbidden" ? "" : form.limitPrice,
    stopPrice: rules.stop === "forbidden" ? "" : form.stopPrice,
    trailingAmount: rules.trailing ? form.trailingAmount : "",
    trailingPercent: rules.trailing ? form.trailingPercent : "",
  };
}

export function toPlaceOrderRequest(form: TicketForm, clientOrderId: string, validateOnly = false): PlaceOrderRequest {
  const derivative = isDerivative(form.securityType);
  return create(PlaceOrderRequestSchema, {
    account: form.account,
    contract: create(ContractSchema, {
      symbol: form.symbol.trim().toUpperCase(),
      securityType: form.securityType,
      exchange: form.exchange.trim().toUpperCase(),
      currency: form.currency.trim().toUpperCase(),
      lastTradeDateOrContractMonth: derivative ? form.lastTradeDateOrContractMonth.trim() : "",
      strike: form.securityType === SecurityType.OPTION ? form.strike : "",
      right: form.securityType === SecurityType.OPTION ? form.right : OptionRight.UNSPECIFIED,
      multiplier: derivative ? form.multiplier : "",
    }),
    side: form.side,
    quantity: form.quantity,
    orderType: form.orderType,
    limitPrice: form.limitPrice,
    stopPrice: form.stopPrice,
    trailingAmount: form.trailingAmount,
    trailingPercent: form.trailingPercent,
    timeInForce: form.timeInForce,
    outsideRegularHours: form.outsideRegularHours,
    ...(form.takeProfitEnabled
      ? { takeProfit: create(TakeProfitLegSchema, { limitPrice: form.takeProfitLimitPrice }) }
      : {}),
    ...(form.stopLossEnabled
      ? {
          stopLoss: create(StopLossLegSchema, {
            stopPrice: form.stopLossStopPrice,
            limitPrice: form.stopLossLimitPrice,
          }),
        }
      : {}),
    validateOnly,
    clientOrderId,
  });
}

export interface Notional {
  /** quantity x price (x multiplier), exact, plain decimal string. */
  readonly value: string;
  readonly price: string;
  /** The contract multiplier it includes; "" when none (stocks). */
  readonly multiplier: string;
  /** Which price it was computed from. */
  readonly priceSource: "limit price" | "stop price" | "last price";
}

/**
 * The order's notional from its own price, or from the last traded price for orders without one
 * (market, trailing stop without an initial stop). Undefined when no price is known.
 */
export function orderNotional(form: TicketForm, lastPrice: string): Notional | undefined {
  const rules = priceFieldsFor(form.orderType);
  const candidates: [string, Notional["priceSource"]][] = [
    [rules.limit === "required" ? form.limitPrice : "", "limit price"],
    [rules.stop === "forbidden" ? "" : form.stopPrice, "stop price"],
    [lastPrice, "last price"],
  ];
  const chosen = candidates.find(([text]) => parseDecimal(text) !== undefined);
  const quantity = parseDecimal(form.quantity);
  if (chosen === undefined || quantity === undefined) {
    return undefined;
  }
  const [priceText, priceSource] = chosen;
  const price = parseDecimal(priceText);
  if (price === undefined) {
    return undefined;
  }
  const multiplier = isDerivative(form.securityType) ? parseDecimal(form.multiplier) : undefined;
  const value = multiply(multiply(quantity, price), multiplier ?? { units: 1n, scale: 0 });
  return {
    value: toPlainString(value),
    price: priceText,
    multiplier: multiplier === undefined ? "" : form.multiplier,
    priceSource,
  };
}

/** A fresh idempotency key: at most 64 of [A-Za-z0-9._:-] (AIP-155). */
export function newClientOrderId(): string {
  return `web-${crypto.randomUUID()}`;
}
