// Flattening a position: a market order for the opposite side and the position's whole quantity,
// with a fresh client order id, for the position's account and contract. Percentages of a
// position for the positions table.
import { create } from "@bufbuild/protobuf";
import type { PlaceOrderRequest, Position } from "@ibkr-grpc/client";
import { ContractSchema, OrderType, PlaceOrderRequestSchema, Side, TimeInForce } from "@ibkr-grpc/client";
import { multiply, parseDecimal, sign, subtract, toPlainString } from "../lib/decimal";
import { percentOf } from "../market/change";

/** The order that closes `position`, or undefined when it is flat or its quantity unreadable. */
export function closeOrderRequest(position: Position, clientOrderId: string): PlaceOrderRequest | undefined {
  const quantity = parseDecimal(position.quantity);
  if (quantity === undefined || sign(quantity) === 0 || position.contract === undefined) {
    return undefined;
  }
  const long = sign(quantity) > 0;
  const absolute = toPlainString(long ? quantity : { ...quantity, units: -quantity.units });
  return create(PlaceOrderRequestSchema, {
    account: position.account,
    // IB reports positions without a routing exchange: route the close through SMART.
    contract: create(ContractSchema, {
      ...position.contract,
      exchange: position.contract.exchange === "" ? "SMART" : position.contract.exchange,
    }),
    side: long ? Side.SELL : Side.BUY,
    quantity: absolute,
    orderType: OrderType.MARKET,
    timeInForce: TimeInForce.DAY,
    clientOrderId,
  });
}

/** Unrealized PnL as a percentage of what the position cost (|quantity| x average cost). */
export function pnlPercent(position: Position): string {
  const pnl = parseDecimal(position.unrealizedPnl);
  const quantity = parseDecimal(position.quantity);
  const cost = parseDecimal(position.averageCost);
  if (pnl === undefined || quantity === undefined || cost === undefined) {
    return "";
  }
  const basis = multiply({ ...quantity, units: quantity.units < 0n ? -quantity.units : quantity.units }, cost);
  return percentOf(pnl, basis);
}

/** Today's PnL as a percentage of the position's value at the start of the day. */
export function dayPercent(position: Position): string {
  const daily = parseDecimal(position.dailyPnl);
  const value = parseDecimal(position.marketValue);
  if (daily === undefined || value === undefined) {
    return "";
  }
  const start = subtract(value, daily);
  // A short position's value is negative: its gain is a fall in that liability.
  return percentOf(daily, start.units < 0n ? { ...start, units: -start.units } : start);
}
