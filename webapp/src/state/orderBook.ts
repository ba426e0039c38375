// The order book as the UI sees it: the latest state of every order, the fills, and the tail of
// the order-event log. Events apply strictly in sequence: one already seen is a duplicate and is
// dropped, so a resumed stream can never show an event twice.
import type { Fill, Order, OrderEvent } from "@ibkr-grpc/client";
import { isWorkingStatus } from "../lib/orderLabels";

/** How many recent events the book keeps for the activity views. */
export const RECENT_EVENT_LIMIT = 200;

export interface OrderBookState {
  readonly orders: ReadonlyMap<string, Order>;
  readonly fills: ReadonlyMap<string, Fill>;
  /** Oldest first, at most RECENT_EVENT_LIMIT. */
  readonly events: readonly OrderEvent[];
  /** The greatest sequence applied: StreamOrderEvents resumes after it. */
  readonly lastSequence: bigint;
  readonly replayComplete: boolean;
  readonly snapshotError: string;
}

export const EMPTY_ORDER_BOOK: OrderBookState = {
  orders: new Map(),
  fills: new Map(),
  events: [],
  lastSequence: 0n,
  replayComplete: false,
  snapshotError: "",
};

function timeOf(order: Order): bigint {
  const time = order.updateTime;
  return time === undefined ? -1n : time.seconds * 1_000_000_000n + BigInt(time.nanos);
}

function upsertOrder(orders: ReadonlyMap<string, Order>, order: Order): ReadonlyMap<string, Order> {
  const existing = orders.get(order.orderId);
  if (existing !== undefined && timeOf(existing) > timeOf(order)) {
    return orders;
  }
  const next = new Map(orders);
  next.set(order.orderId, order);
  return next;
}

export function applyOrderEvent(state: OrderBookState, event: OrderEvent): OrderBookState {
  if (event.sequence <= state.lastSequence) {
    return state;
  }
  let { orders, fills } = state;
  if (event.order !== undefined && event.order.orderId !== "") {
    // Events arrive in log order, so the event's order is the newest state even when the clocks
    // of a listed snapshot say otherwise.
    const next = new Map(orders);
    next.set(event.order.orderId, event.order);
    orders = next;
  }
  if (event.fill !== undefined && event.fill.executionId !== "") {
    const next = new Map(fills);
    next.set(event.fill.executionId, event.fill);
    fills = next;
  }
  const events = [...state.events, event].slice(-RECENT_EVENT_LIMIT);
  return { ...state, orders, fills, events, lastSequence: event.sequence };
}

/** Merges a ListOrders page: an order already known from a newer event keeps its state. */
export function mergeListedOrders(state: OrderBookState, listed: readonly Order[]): OrderBookState {
  const orders = listed.reduce(upsertOrder, state.orders);
  return orders === state.orders ? state : { ...state, orders };
}

/** Merges a ListFills page; a fill already known keeps the version with a commission. */
export function mergeListedFills(state: OrderBookState, listed: readonly Fill[]): OrderBookState {
  const fills = new Map(state.fills);
  for (const fill of listed) {
    const existing = fills.get(fill.executionId);
    if (existing === undefined || (existing.commission === "" && fill.commission !== "")) {
      fills.set(fill.executionId, fill);
    }
  }
  return { ...state, fills };
}

/**
 * In flight or working: the orders a cancel or modify makes sense for. NOT_SENT is final (IB
 * never had it); the phase of every status is in lib/orderLabels.ts, exhaustively.
 */
export function isWorking(order: Order): boolean {
  return isWorkingStatus(order.status);
}

/** Newest first by creation time, then by id. */
export function sortedOrders(orders: ReadonlyMap<string, Order>): Order[] {
  const created = (order: Order) => {
    const time = order.createTime;
    return time === undefined ? 0n : time.seconds * 1_000_000_000n + BigInt(time.nanos);
  };
  return [...orders.values()].sort((left, right) => {
    const difference = created(right) - created(left);
    return difference > 0n ? 1 : difference < 0n ? -1 : right.orderId.localeCompare(left.orderId);
  });
}

/** Newest first by execution time. */
export function sortedFills(fills: ReadonlyMap<string, Fill>): Fill[] {
  const executed = (fill: Fill) => {
    const time = fill.executionTime;
    return time === undefined ? 0n : time.seconds * 1_000_000_000n + BigInt(time.nanos);
  };
  return [...fills.values()].sort((left, right) => {
    const difference = executed(right) - executed(left);
    return difference > 0n ? 1 : difference < 0n ? -1 : right.executionId.localeCompare(left.executionId);
  });
}
