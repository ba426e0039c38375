import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { FillSchema, OrderEventType, OrderStatus, OrderType, Side } from "@ibkr-grpc/client";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../api/errorDetails";
import { FakeBackend, order, orderEvent, stock } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";

describe("orders blotter", () => {
  it("resumes the event stream after the last sequence seen, with no gap and no duplicate", async () => {
    const backend = new FakeBackend();
    renderApp({ page: "orders", backend });
    await waitFor(() => {
      expect(backend.orderStreamAfterSequences).toEqual([0n]);
    });

    backend.appendOrderEvent(orderEvent(1n, order("ord_A", { status: OrderStatus.PENDING_SUBMIT }), OrderEventType.CREATED));
    backend.appendOrderEvent(orderEvent(2n, order("ord_A", { status: OrderStatus.SUBMITTED })));
    backend.appendOrderEvent(orderEvent(3n, order("ord_B", { side: Side.SELL })));
    await waitFor(() => {
      expect(screen.getByTestId("orders-last-sequence").textContent).toContain("seq 3");
    });

    // The connection drops; meanwhile the order fills (stored in the log, not delivered).
    backend.failOrderStreams();
    backend.eventLog.push(orderEvent(4n, order("ord_A", { status: OrderStatus.FILLED, filledQuantity: "100" })));

    // The reconnect asks for everything after 3 and gets event 4 replayed.
    await waitFor(() => {
      expect(backend.orderStreamAfterSequences).toEqual([0n, 3n]);
    });
    await waitFor(() => {
      expect(within(screen.getByTestId("order-row-ord_A")).getByTestId("order-status").textContent).toBe("FILLED");
    });
    // Live again: a new event arrives once.
    backend.appendOrderEvent(orderEvent(5n, order("ord_B", { status: OrderStatus.CANCELLED })));
    await waitFor(() => {
      expect(within(screen.getByTestId("order-row-ord_B")).getByTestId("order-status").textContent).toBe("CANCELLED");
    });
    expect(screen.getAllByTestId(/^order-row-/)).toHaveLength(2);

    // The activity log holds each event exactly once.
    await userEvent.setup().click(screen.getByTestId("nav-dashboard"));
    const sequences = screen
      .getAllByTestId("activity-row")
      .map((row) => row.querySelector("td:nth-child(2)")?.textContent);
    expect(sequences).toEqual(["5", "4", "3", "2", "1"]);
  });

  it("ignores an event it already applied", async () => {
    const backend = new FakeBackend();
    renderApp({ page: "orders", backend });
    await waitFor(() => {
      expect(backend.orderStreamAfterSequences).toEqual([0n]);
    });
    // A server that sends an event twice (at a replay seam, say) must not show it twice.
    backend.appendOrderEvent(orderEvent(1n, order("ord_A")));
    backend.appendOrderEvent(orderEvent(1n, order("ord_A", { status: OrderStatus.REJECTED })));
    backend.appendOrderEvent(orderEvent(2n, order("ord_B", { status: OrderStatus.FILLED })));
    await screen.findByTestId("order-row-ord_B");
    expect(within(screen.getByTestId("order-row-ord_A")).getByTestId("order-status").textContent).toBe("SUBMITTED");
    await userEvent.setup().click(screen.getByTestId("nav-dashboard"));
    expect(screen.getAllByTestId("activity-row")).toHaveLength(2);
  });

  it("loads the current orders and fills with commissions when it starts without a sequence", async () => {
    const backend = new FakeBackend();
    backend.orders = [
      order("ord_W", { status: OrderStatus.SUBMITTED }),
      order("ord_F", { status: OrderStatus.FILLED, orderType: OrderType.MARKET, limitPrice: "" }),
    ];
    backend.fills = [
      create(FillSchema, {
        executionId: "exec-1",
        orderId: "ord_F",
        contract: stock("AAPL"),
        side: Side.BUY,
        quantity: "100",
        price: "187.20",
        commission: "1.00",
        commissionCurrency: "USD",
        realizedPnl: "",
        slippage: "0.05",
      }),
      create(FillSchema, {
        executionId: "exec-2",
        orderId: "ord_F",
        quantity: "5",
        price: "187.3",
        commission: "",
        slippage: "-0.02",
      }),
    ];
    renderApp({ page: "orders", backend });
    await screen.findByTestId("order-row-ord_W");
    expect(screen.getByTestId("cancel-ord_W")).toBeTruthy();
    // A filled order has no actions.
    expect(screen.queryByTestId("cancel-ord_F")).toBeNull();
    expect(within(screen.getByTestId("fill-row-exec-1")).getByTestId("fill-commission").textContent).toBe("1.00 USD");
    expect(within(screen.getByTestId("fill-row-exec-2")).getByTestId("fill-commission").textContent).toBe("pending");
    // Positive slippage is worse for the trader: red; negative is better: green.
    expect(within(screen.getByTestId("fill-row-exec-1")).getByTestId("fill-slippage").className).toContain("negative");
    expect(within(screen.getByTestId("fill-row-exec-2")).getByTestId("fill-slippage").className).toContain("positive");
  });

  it("cancels a working order", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W")];
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Cancel order ord_W" }));
    await waitFor(() => {
      expect(backend.cancelRequests.map((request) => request.orderId)).toEqual(["ord_W"]);
    });
    expect(screen.queryByTestId("orders-action-error")).toBeNull();
  });

  it("shows the reason of a refused cancel", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W")];
    backend.cancelOrder = () => {
      throw new ConnectError("order ord_W is FILLED", Code.FailedPrecondition, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "ORDER_NOT_MODIFIABLE", domain: "ibkr.v1" } },
      ]);
    };
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Cancel order ord_W" }));
    const panel = await screen.findByTestId("orders-action-error");
    expect(within(panel).getByTestId("error-reason").textContent).toBe("ORDER_NOT_MODIFIABLE (failed_precondition)");
    expect(panel.textContent).toContain("order ord_W is FILLED");
  });

  it("cancels all working orders after a confirmation", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_1"), order("ord_2"), order("ord_3", { status: OrderStatus.FILLED })];
    renderApp({ page: "orders", backend });
    await screen.findByTestId("order-row-ord_1");
    await user.click(screen.getByTestId("orders-cancel-all"));
    const dialog = screen.getByRole("dialog", { name: "Cancel all working orders?" });
    expect(dialog.textContent).toContain("2 shown here");
    expect(document.activeElement).toBe(within(dialog).getByTestId("cancel-all-confirm"));
    await user.keyboard("{Escape}");
    expect(backend.cancelAllCalls).toBe(0);
    await user.click(screen.getByTestId("orders-cancel-all"));
    await user.keyboard("{Enter}");
    expect((await screen.findByTestId("orders-notice")).textContent).toBe("Cancel requested for 3 orders.");
    expect(backend.cancelAllCalls).toBe(1);
  });

  it("modifies a working order with only the fields that changed", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W", { quantity: "100", limitPrice: "187.25" })];
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Modify order ord_W" }));
    const dialog = screen.getByRole("dialog");
    const limit = within(dialog).getByTestId("modify-limit-price");
    expect(document.activeElement).toBe(within(dialog).getByTestId("modify-quantity"));
    await user.clear(limit);
    await user.type(limit, "186.5");
    await user.click(within(dialog).getByTestId("modify-submit"));
    await waitFor(() => {
      expect(backend.modifyRequests).toHaveLength(1);
    });
    const request = backend.modifyRequests[0];
    expect(request?.orderId).toBe("ord_W");
    expect(request?.limitPrice).toBe("186.5");
    expect(request?.quantity).toBeUndefined();
    expect(request?.stopPrice).toBeUndefined();
    await waitFor(() => {
      expect(screen.queryByRole("dialog")).toBeNull();
    });
  });

  it("works from the keyboard: arrows between rows, M modifies, Delete cancels", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [
      order("ord_new", { createTime: timestampFromMs(1_700_000_002_000) }),
      order("ord_old", { createTime: timestampFromMs(1_700_000_001_000) }),
    ];
    renderApp({ page: "orders", backend });
    const first = await screen.findByTestId("order-row-ord_new");
    first.focus();
    await user.keyboard("{ArrowDown}");
    expect(document.activeElement).toBe(screen.getByTestId("order-row-ord_old"));
    await user.keyboard("{Delete}");
    await waitFor(() => {
      expect(backend.cancelRequests.map((request) => request.orderId)).toEqual(["ord_old"]);
    });
    await user.keyboard("{ArrowUp}");
    expect(document.activeElement).toBe(first);
    await user.keyboard("m");
    expect(screen.getByRole("dialog").textContent).toContain("Modify ord_new");
  });

  it("refuses a malformed modification before sending it", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W")];
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Modify order ord_W" }));
    const quantity = screen.getByTestId("modify-quantity");
    await user.clear(quantity);
    await user.type(quantity, "0");
    await user.click(screen.getByTestId("modify-submit"));
    expect(screen.getByTestId("error-quantity").textContent).toBe("must be greater than zero");
    expect(backend.modifyRequests).toHaveLength(0);
  });
});
