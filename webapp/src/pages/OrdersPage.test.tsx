import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, FillSchema, OrderEventType, OrderOrigin, OrderStatus, OrderType, Side } from "@ibkr-grpc/client";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
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
      expect(within(screen.getByTestId("order-row-ord_A")).getByTestId("order-status").textContent).toBe("Filled");
    });
    // Live again: a new event arrives once.
    backend.appendOrderEvent(orderEvent(5n, order("ord_B", { status: OrderStatus.CANCELLED })));
    await waitFor(() => {
      expect(within(screen.getByTestId("order-row-ord_B")).getByTestId("order-status").textContent).toBe("Cancelled");
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
    expect(within(screen.getByTestId("order-row-ord_A")).getByTestId("order-status").textContent).toBe("Submitted");
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

  it("says when the orders cannot be listed, and lists them when the event stream starts again", async () => {
    const backend = new FakeBackend();
    backend.orders = [order("ord_W")];
    backend.listOrdersFailure = new ConnectError("database unreachable", Code.Internal);
    renderApp({ page: "orders", backend });
    expect((await screen.findByText(/Could not load orders/)).textContent).toBe(
      "Could not load orders: internal: database unreachable",
    );
    expect(backend.listOrdersCalls).toBe(1);

    // The stream drops before any event: it starts again with nothing to resume from, so the
    // lists are read again.
    backend.listOrdersFailure = undefined;
    backend.failOrderStreams();
    expect(await screen.findByRole("button", { name: "Cancel order ord_W" })).toBeTruthy();
    expect(screen.queryByText(/Could not load orders/)).toBeNull();
    expect(backend.listOrdersCalls).toBe(2);
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

  it("shows the contract's ModifyOrder rules at the inputs they are about, and sends once none is broken", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W", { quantity: "100", limitPrice: "187.25" })];
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Modify order ord_W" }));
    const dialog = screen.getByRole("dialog");
    // Nothing changed: order_service.proto's quantity.some_change.
    await user.click(within(dialog).getByTestId("modify-submit"));
    expect(within(dialog).getByTestId("error-quantity").textContent).toBe("give at least one field to change");
    const limit = within(dialog).getByTestId("modify-limit-price");
    await user.clear(limit);
    await user.type(limit, "1.8e2");
    expect(within(dialog).queryByTestId("error-quantity")).toBeNull();
    expect(within(dialog).getByTestId("error-limit_price").textContent).toBe("must be a plain decimal string like 187.25");
    expect(limit.getAttribute("aria-invalid")).toBe("true");
    await user.click(within(dialog).getByTestId("modify-submit"));
    expect(backend.modifyRequests).toHaveLength(0);
    await user.clear(limit);
    await user.type(limit, "180");
    expect(within(dialog).queryAllByTestId(/^error-/)).toEqual([]);
    expect(limit.getAttribute("aria-invalid")).toBe("false");
    await user.click(within(dialog).getByTestId("modify-submit"));
    await waitFor(() => {
      expect(backend.modifyRequests.map((request) => request.limitPrice)).toEqual(["180"]);
    });
  });

  it("lists a NOT_SENT order as done, without actions, and says how to send it", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [
      order("ord_lost", { status: OrderStatus.NOT_SENT, clientOrderId: "web-123", createTime: timestampFromMs(1_700_000_002_000) }),
      order("ord_W", { createTime: timestampFromMs(1_700_000_001_000) }),
    ];
    renderApp({ page: "orders", backend });
    const row = await screen.findByTestId("order-row-ord_lost");
    expect(within(row).getByTestId("order-status").textContent).toBe("Not sent");
    expect(row.className).toBe("done");
    expect(screen.queryByTestId("cancel-ord_lost")).toBeNull();
    expect(screen.queryByTestId("modify-ord_lost")).toBeNull();
    // Not counted as working: cancel-all counts the one working order.
    await user.click(screen.getByTestId("orders-filter-working"));
    expect(screen.queryByTestId("order-row-ord_lost")).toBeNull();
    await user.click(screen.getByTestId("orders-filter-done"));
    await user.click(screen.getByTestId("order-row-ord_lost"));
    const detail = screen.getByTestId("order-detail");
    expect(within(detail).getByTestId("order-detail-status").textContent).toBe("Not sent");
    const hint = within(detail).getByTestId("order-detail-hint").textContent;
    expect(hint).toContain("IB never received this order");
    expect(hint).toContain("same client order id");
    expect(hint).toContain("web-123");
  });

  it("badges orders placed by another API client or by hand, with no client order id", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [
      order("ord_own", { origin: OrderOrigin.THIS_SERVER, clientOrderId: "web-1", brokerClientId: 7, createTime: timestampFromMs(1_700_000_003_000) }),
      order("ord_api", { origin: OrderOrigin.OTHER_API_CLIENT, brokerClientId: 21, createTime: timestampFromMs(1_700_000_002_000) }),
      order("ord_tws", { origin: OrderOrigin.MANUAL, brokerClientId: 0, createTime: timestampFromMs(1_700_000_001_000) }),
    ];
    renderApp({ page: "orders", backend });
    await screen.findByTestId("order-row-ord_tws");
    expect(within(screen.getByTestId("order-row-ord_own")).queryByTestId("order-origin")).toBeNull();
    expect(within(screen.getByTestId("order-row-ord_api")).getByTestId("order-origin").textContent).toBe("API client 21");
    expect(within(screen.getByTestId("order-row-ord_tws")).getByTestId("order-origin").textContent).toBe("TWS / app");

    // The detail follows the selected row.
    expect(screen.getByTestId("order-detail-client-order-id").textContent).toBe("web-1");
    expect(screen.getByTestId("order-detail-placed-by").textContent).toBe("This server");
    await user.click(screen.getByTestId("order-row-ord_api"));
    expect(screen.getByTestId("order-detail-origin").textContent).toBe("API client 21");
    expect(screen.getByTestId("order-detail-client-order-id").textContent).toBe("none: placed outside this server");
    expect(screen.getByTestId("order-detail-placed-by").textContent).toContain("client id 21");
    await user.keyboard("{ArrowDown}");
    expect(screen.getByTestId("order-detail-origin").textContent).toBe("TWS / app");
    expect(screen.getByTestId("order-detail-placed-by").textContent).toContain("TWS, the mobile app");
  });

  it("closes the modify dialog on IB's confirmation and shows the new terms from the answer", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W", { quantity: "100", limitPrice: "187.25" })];
    backend.modifyOrder = (request) => ({
      order: order(request.orderId, { quantity: "100", limitPrice: "186.50", updateTime: timestampFromMs(1_700_000_005_000) }),
    });
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Modify order ord_W" }));
    const limit = screen.getByTestId("modify-limit-price");
    await user.clear(limit);
    await user.type(limit, "186.5");
    await user.click(screen.getByTestId("modify-submit"));
    await waitFor(() => {
      expect(screen.queryByRole("dialog")).toBeNull();
    });
    expect(screen.getByTestId("orders-notice").textContent).toBe("Modified ord_W: IB confirmed BUY 100 LIMIT limit 186.50 DAY.");
    // The blotter shows the confirmed terms before (and without) the MODIFIED event.
    const cells = within(screen.getByTestId("order-row-ord_W")).getAllByRole("cell");
    expect(cells[7]?.textContent).toBe("186.50");
  });

  it("says so when ModifyOrder answers before IB confirmed the new terms", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W", { quantity: "100", limitPrice: "187.25" })];
    // The server's bounded wait ran out: the order as IB last reported it, old terms.
    backend.modifyOrder = (request) => ({ order: order(request.orderId, { quantity: "100", limitPrice: "187.25" }) });
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Modify order ord_W" }));
    const quantity = screen.getByTestId("modify-quantity");
    await user.clear(quantity);
    await user.type(quantity, "50");
    await user.click(screen.getByTestId("modify-submit"));
    const notice = await screen.findByTestId("orders-notice");
    expect(notice.textContent).toBe(
      "Modification of ord_W sent; IB has not confirmed the new terms yet. It stands at BUY 100 LIMIT limit 187.25 DAY.",
    );
  });

  it("shows IB's refusal of a modification, and that the order is unchanged", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W")];
    backend.modifyOrder = () => {
      throw new ConnectError("IB refused the modification of order ord_W (10147): order is locked", Code.FailedPrecondition, undefined, [
        {
          desc: ErrorInfoSchema,
          value: { reason: "IB_COMMAND_REFUSED", domain: "ibkr.v1", metadata: { ib_error_code: "10147", order_id: "ord_W" } },
        },
      ]);
    };
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Modify order ord_W" }));
    const quantity = screen.getByTestId("modify-quantity");
    await user.clear(quantity);
    await user.type(quantity, "50");
    await user.click(screen.getByTestId("modify-submit"));
    const panel = await screen.findByTestId("modify-error");
    expect(within(panel).getByTestId("error-summary").textContent).toBe(
      "IB refused the modification (code 10147): IB refused the modification of order ord_W (10147): order is locked; the order is unchanged.",
    );
    // The dialog stays open with the trader's values, and the blotter keeps the old terms.
    expect(screen.getByRole("dialog")).toBeTruthy();
    expect(screen.getByTestId<HTMLInputElement>("modify-quantity").value).toBe("50");
  });

  it("shows IB's refusal of a cancel, and that the order is unchanged", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W")];
    backend.cancelOrder = () => {
      throw new ConnectError("IB refused the cancel of order ord_W (161): not cancellable", Code.FailedPrecondition, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "IB_COMMAND_REFUSED", domain: "ibkr.v1", metadata: { ib_error_code: "161" } } },
      ]);
    };
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Cancel order ord_W" }));
    const panel = await screen.findByTestId("orders-action-error");
    expect(within(panel).getByTestId("error-summary").textContent).toBe(
      "IB refused the cancel (code 161): IB refused the cancel of order ord_W (161): not cancellable; the order is unchanged.",
    );
    expect(within(screen.getByTestId("order-row-ord_W")).getByTestId("order-status").textContent).toBe("Submitted");
  });

  it("shows a trading-mode mismatch refusing a modification", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.orders = [order("ord_W")];
    backend.modifyOrder = () => {
      throw new ConnectError("TRADING_MODE is paper but the gateway manages live accounts U123", Code.FailedPrecondition, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "TRADING_MODE_MISMATCH", domain: "ibkr.v1" } },
      ]);
    };
    renderApp({ page: "orders", backend });
    await user.click(await screen.findByRole("button", { name: "Modify order ord_W" }));
    const quantity = screen.getByTestId("modify-quantity");
    await user.clear(quantity);
    await user.type(quantity, "50");
    await user.click(screen.getByTestId("modify-submit"));
    const panel = await screen.findByTestId("modify-error");
    expect(within(panel).getByTestId("error-summary").textContent).toContain("paper/live");
    expect(panel.textContent).toContain("the gateway manages live accounts U123");
  });
});
