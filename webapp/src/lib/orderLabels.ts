// Words for the order contract's enums, one exhaustive map each: a value added to the contract
// fails the build here until it has a label. A newer server's value still shows, as "Unknown (n)".
import type { Order, OrderEvent } from "@ibkr-grpc/client";
import { OrderEventType, OrderOrigin, OrderStatus, OrderStatusSchema, OrderTypeSchema, SideSchema, TimeInForce, TimeInForceSchema } from "@ibkr-grpc/client";
import { enumName } from "./enums";

/** In flight (sent, no answer yet), working at IB, final, or a status this client cannot place. */
export type StatusPhase = "in_flight" | "working" | "final" | "unknown";

export interface StatusDisplay {
  readonly label: string;
  readonly phase: StatusPhase;
  /** What the status means for the trader, when there is more to say than the label. */
  readonly hint: string;
}

export const NOT_SENT_HINT =
  "IB never received this order. Submitting the same ticket again (the same client order id and the same request) sends it, once; a new ticket would be a second order.";

const ORDER_STATUSES = {
  [OrderStatus.UNSPECIFIED]: { label: "Unknown", phase: "unknown", hint: "The server did not say." },
  [OrderStatus.PENDING_SUBMIT]: {
    label: "Pending submit",
    phase: "in_flight",
    hint: "Sent or being sent to IB without an answer yet; IB or reconciliation settles it.",
  },
  [OrderStatus.SUBMITTED]: { label: "Submitted", phase: "working", hint: "" },
  [OrderStatus.PARTIALLY_FILLED]: { label: "Partially filled", phase: "working", hint: "" },
  [OrderStatus.FILLED]: { label: "Filled", phase: "final", hint: "" },
  [OrderStatus.PENDING_CANCEL]: {
    label: "Pending cancel",
    phase: "in_flight",
    hint: "Cancel requested; IB has not confirmed it, and the order may still fill.",
  },
  [OrderStatus.CANCELLED]: { label: "Cancelled", phase: "final", hint: "" },
  [OrderStatus.REJECTED]: { label: "Rejected", phase: "final", hint: "Refused by IB." },
  [OrderStatus.INACTIVE]: { label: "Inactive", phase: "final", hint: "Accepted by IB but not working." },
  [OrderStatus.EXPIRED]: { label: "Expired", phase: "final", hint: "Its time in force ran out." },
  [OrderStatus.NOT_SENT]: { label: "Not sent", phase: "final", hint: NOT_SENT_HINT },
} as const satisfies Record<OrderStatus, StatusDisplay>;

const STATUSES_BY_NUMBER: Readonly<Partial<Record<number, StatusDisplay>>> = ORDER_STATUSES;

export function statusDisplay(status: OrderStatus): StatusDisplay {
  return STATUSES_BY_NUMBER[status] ?? { label: `Unknown (${status})`, phase: "unknown", hint: "" };
}

export function statusLabel(status: OrderStatus): string {
  return statusDisplay(status).label;
}

/** The CSS class of a status: "status-not_sent"; "status-unknown" for a value this client does not know. */
export function statusClass(status: OrderStatus): string {
  const name = enumName(OrderStatusSchema, status);
  return name.startsWith("UNKNOWN") ? "status-unknown" : `status-${name.toLowerCase()}`;
}

/** In flight or working: the orders a cancel or modify makes sense for. */
export function isWorkingStatus(status: OrderStatus): boolean {
  const { phase } = statusDisplay(status);
  return phase === "in_flight" || phase === "working";
}

export type EventTone = "normal" | "warning";

export interface EventTypeDisplay {
  readonly label: string;
  readonly tone: EventTone;
  readonly hint: string;
}

const ORDER_EVENT_TYPES = {
  [OrderEventType.UNSPECIFIED]: { label: "Event", tone: "normal", hint: "" },
  [OrderEventType.CREATED]: { label: "Created", tone: "normal", hint: "Stored by the server, not yet sent to IB." },
  [OrderEventType.SENT]: { label: "Sent to IB", tone: "normal", hint: "" },
  [OrderEventType.STATUS_CHANGED]: { label: "Status changed", tone: "normal", hint: "" },
  [OrderEventType.FILL]: { label: "Fill", tone: "normal", hint: "" },
  [OrderEventType.COMMISSION_REPORTED]: { label: "Commission", tone: "normal", hint: "IB's commission report for a fill." },
  [OrderEventType.MODIFY_REQUESTED]: {
    label: "Modify requested",
    tone: "normal",
    hint: "Being sent to IB; the order keeps its terms until IB confirms.",
  },
  [OrderEventType.CANCEL_REQUESTED]: {
    label: "Cancel requested",
    tone: "normal",
    hint: "Being sent to IB; the status is unchanged until IB answers.",
  },
  [OrderEventType.RECONCILED]: { label: "Reconciled", tone: "normal", hint: "Settled from IB's records after a reconnect." },
  [OrderEventType.BROKER_MESSAGE]: { label: "IB message", tone: "normal", hint: "A message from IB that did not change the status." },
  [OrderEventType.MODIFIED]: { label: "Modified", tone: "normal", hint: "IB confirmed the new terms." },
  [OrderEventType.COMMAND_REFUSED]: {
    label: "Modify/cancel refused",
    tone: "warning",
    hint: "IB refused a modify or cancel (or it could not be sent); the order is unchanged.",
  },
  [OrderEventType.DISCOVERED]: {
    label: "Placed elsewhere",
    tone: "normal",
    hint: "An order placed outside this server (another API client, TWS or the app), seen for the first time.",
  },
} as const satisfies Record<OrderEventType, EventTypeDisplay>;

const EVENT_TYPES_BY_NUMBER: Readonly<Partial<Record<number, EventTypeDisplay>>> = ORDER_EVENT_TYPES;

export function eventTypeDisplay(type: OrderEventType): EventTypeDisplay {
  return EVENT_TYPES_BY_NUMBER[type] ?? { label: `Unknown (${type})`, tone: "normal", hint: "" };
}

/** The detail to show with an event: a refusal says the order is unchanged. */
export function eventDetail(event: OrderEvent): string {
  if (event.type === OrderEventType.COMMAND_REFUSED) {
    return event.detail === "" ? "The order is unchanged." : `${event.detail}. The order is unchanged.`;
  }
  return event.detail;
}

export interface OriginBadge {
  /** "API client 21", "TWS / app". */
  readonly label: string;
  /** The longer explanation, for the detail and the tooltip. */
  readonly description: string;
}

const NO_CLIENT_ORDER_ID = "it has no client order id";

/** Who placed the order, for orders placed outside this server; undefined for this server's own. */
export function originBadge(order: Order): OriginBadge | undefined {
  const origin = order.origin;
  switch (origin) {
    case OrderOrigin.UNSPECIFIED:
    case OrderOrigin.THIS_SERVER:
      return undefined;
    case OrderOrigin.OTHER_API_CLIENT:
      return {
        label: `API client ${order.brokerClientId}`,
        description: `Placed by another API client of the gateway (client id ${order.brokerClientId}); ${NO_CLIENT_ORDER_ID}.`,
      };
    case OrderOrigin.MANUAL:
      return {
        label: "TWS / app",
        description: `Placed by hand in TWS, the mobile app or Client Portal; ${NO_CLIENT_ORDER_ID}.`,
      };
    default: {
      // A value from a newer server: the build breaks here when the contract grows.
      const unknown: never = origin;
      return { label: `Origin ${String(unknown)}`, description: `Placed outside this server; ${NO_CLIENT_ORDER_ID}.` };
    }
  }
}

/** "BUY 100 LIMIT 186.5 DAY", with the stop and trail when the order has them. */
export function orderTerms(order: Order): string {
  const parts = [enumName(SideSchema, order.side), order.quantity, enumName(OrderTypeSchema, order.orderType)];
  if (order.limitPrice !== "") {
    parts.push(`limit ${order.limitPrice}`);
  }
  if (order.stopPrice !== "") {
    parts.push(`stop ${order.stopPrice}`);
  }
  if (order.trailingAmount !== "") {
    parts.push(`trail ${order.trailingAmount}`);
  }
  if (order.trailingPercent !== "") {
    parts.push(`trail ${order.trailingPercent} %`);
  }
  parts.push(order.timeInForce === TimeInForce.UNSPECIFIED ? "DAY" : enumName(TimeInForceSchema, order.timeInForce));
  return parts.join(" ");
}

/**
 * An id short enough to read in a table: its last 6 characters (the part that differs between
 * ids minted one after another), "…" before them; the full id goes in a title and the detail.
 */
export function shortId(id: string): string {
  return id.length <= 10 ? id : `…${id.slice(-6)}`;
}
