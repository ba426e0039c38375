import { create, fromJson } from "@bufbuild/protobuf";
import {
  OrderEventSchema,
  OrderEventType,
  OrderOrigin,
  OrderSchema,
  OrderStatus,
  OrderType,
  TimeInForce,
} from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { enumMembers } from "../test/enumMembers";
import { order } from "../test/fakeBackend";
import {
  eventDetail,
  eventTypeDisplay,
  isWorkingStatus,
  orderTerms,
  originBadge,
  statusClass,
  statusDisplay,
  statusLabel,
} from "./orderLabels";

describe("order status labels", () => {
  it("gives every status of the contract words, not its enum name", () => {
    for (const status of enumMembers<OrderStatus>(OrderStatus)) {
      const label = statusLabel(status);
      expect(label, `status ${status}`).not.toMatch(/_|^Unknown/);
    }
  });

  it("treats NOT_SENT as final, with a hint to resubmit the same ticket", () => {
    expect(statusLabel(OrderStatus.NOT_SENT)).toBe("Not sent");
    expect(isWorkingStatus(OrderStatus.NOT_SENT)).toBe(false);
    expect(statusDisplay(OrderStatus.NOT_SENT).hint).toContain("same client order id");
    expect(statusClass(OrderStatus.NOT_SENT)).toBe("status-not_sent");
  });

  it("lists working and in-flight statuses as working, and only those", () => {
    const working = enumMembers<OrderStatus>(OrderStatus).filter(isWorkingStatus);
    expect(working).toEqual([
      OrderStatus.PENDING_SUBMIT,
      OrderStatus.SUBMITTED,
      OrderStatus.PARTIALLY_FILLED,
      OrderStatus.PENDING_CANCEL,
    ]);
  });

  it("shows a status from a newer server as unknown and not working", () => {
    const newer = fromJson(OrderSchema, { orderId: "ord_N", status: 42, origin: 9 });
    expect(statusLabel(newer.status)).toBe("Unknown (42)");
    expect(isWorkingStatus(newer.status)).toBe(false);
    expect(statusClass(newer.status)).toBe("status-unknown");
    expect(originBadge(newer)?.label).toBe("Origin 9");
  });
});

describe("order event labels", () => {
  it("gives every event type of the contract words", () => {
    for (const type of enumMembers<OrderEventType>(OrderEventType)) {
      expect(eventTypeDisplay(type).label, `event type ${type}`).not.toMatch(/_|^Unknown/);
    }
    expect(eventTypeDisplay(OrderEventType.MODIFIED).label).toBe("Modified");
    expect(eventTypeDisplay(OrderEventType.DISCOVERED).label).toBe("Placed elsewhere");
    expect(eventTypeDisplay(fromJson(OrderEventSchema, { type: 99 }).type).label).toBe("Unknown (99)");
  });

  it("makes a refused command a warning that says the order is unchanged", () => {
    expect(eventTypeDisplay(OrderEventType.COMMAND_REFUSED)).toMatchObject({ label: "Modify/cancel refused", tone: "warning" });
    expect(eventTypeDisplay(OrderEventType.MODIFIED).tone).toBe("normal");
    const refused = create(OrderEventSchema, { type: OrderEventType.COMMAND_REFUSED, detail: "IB error 104: Cannot modify a filled order" });
    expect(eventDetail(refused)).toBe("IB error 104: Cannot modify a filled order. The order is unchanged.");
  });
});

describe("order origin", () => {
  it("badges orders placed outside this server, and only those", () => {
    expect(originBadge(order("ord_A", { origin: OrderOrigin.THIS_SERVER, brokerClientId: 7 }))).toBeUndefined();
    expect(originBadge(order("ord_A"))).toBeUndefined();
    const api = originBadge(order("ord_B", { origin: OrderOrigin.OTHER_API_CLIENT, brokerClientId: 21 }));
    expect(api?.label).toBe("API client 21");
    expect(api?.description).toContain("no client order id");
    const manual = originBadge(order("ord_C", { origin: OrderOrigin.MANUAL }));
    expect(manual?.label).toBe("TWS / app");
    expect(manual?.description).toContain("no client order id");
  });
});

describe("order terms", () => {
  it("names side, quantity, type, prices and time in force", () => {
    expect(orderTerms(order("ord_A", { quantity: "50", limitPrice: "186.5" }))).toBe("BUY 50 LIMIT limit 186.5 DAY");
    expect(
      orderTerms(order("ord_B", { orderType: OrderType.STOP_LIMIT, limitPrice: "10", stopPrice: "11", timeInForce: TimeInForce.GTC })),
    ).toBe("BUY 100 STOP_LIMIT limit 10 stop 11 GTC");
  });
});
