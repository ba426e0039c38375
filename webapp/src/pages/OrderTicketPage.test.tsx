import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ConnectionState, ErrorInfoSchema, OptionRight, OrderStatus, OrderType, SecurityType, OrderTypeSchema, PlaceOrderResponseSchema, Side, TimeInForceSchema } from "@ibkr-grpc/client";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { enumName, specifiedValues } from "../lib/enums";
import { FakeBackend, order } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";

async function fillLimitOrder(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByTestId("ticket-symbol"), "aapl");
  await user.type(screen.getByTestId("ticket-quantity"), "100");
  await user.selectOptions(screen.getByTestId("ticket-order-type"), String(OrderType.LIMIT));
  await user.type(screen.getByTestId("ticket-limit-price"), "187.25");
}

describe("order ticket", () => {
  it("offers every order type and time in force of the contract", () => {
    renderApp({ page: "ticket" });
    const orderTypes = within(screen.getByTestId("ticket-order-type")).getAllByRole("option");
    expect(orderTypes.map((option) => option.textContent)).toEqual(
      specifiedValues(OrderTypeSchema).map((value) => enumName(OrderTypeSchema, value).replace(/_/g, " ")),
    );
    expect(orderTypes).toHaveLength(5);
    const timesInForce = within(screen.getByTestId("ticket-tif")).getAllByRole("option");
    expect(timesInForce.map((option) => option.textContent)).toEqual(["DAY", "GTC", "IOC", "FOK"]);
    expect(specifiedValues(TimeInForceSchema)).toHaveLength(4);
  });

  it("shows the price fields each order type takes", async () => {
    const user = userEvent.setup();
    renderApp({ page: "ticket" });
    const select = screen.getByTestId("ticket-order-type");
    const visible = () =>
      ["ticket-limit-price", "ticket-stop-price", "ticket-trailing-amount", "ticket-trailing-percent"].filter(
        (testId) => screen.queryByTestId(testId) !== null,
      );
    await user.selectOptions(select, String(OrderType.MARKET));
    expect(visible()).toEqual([]);
    await user.selectOptions(select, String(OrderType.LIMIT));
    expect(visible()).toEqual(["ticket-limit-price"]);
    await user.selectOptions(select, String(OrderType.STOP));
    expect(visible()).toEqual(["ticket-stop-price"]);
    await user.selectOptions(select, String(OrderType.STOP_LIMIT));
    expect(visible()).toEqual(["ticket-limit-price", "ticket-stop-price"]);
    await user.selectOptions(select, String(OrderType.TRAILING_STOP));
    expect(visible()).toEqual(["ticket-stop-price", "ticket-trailing-amount", "ticket-trailing-percent"]);
  });

  it("shows client-side violations next to the fields and sends nothing", async () => {
    const user = userEvent.setup();
    const { backend } = renderApp({ page: "ticket" });
    await user.type(screen.getByTestId("ticket-symbol"), "AAPL");
    await user.type(screen.getByTestId("ticket-quantity"), "1e3");
    await user.click(screen.getByTestId("ticket-review"));
    expect(screen.getByTestId("error-quantity").textContent).toContain("plain decimal");
    expect(screen.getByTestId("error-limit_price").textContent).toBe("is required for LIMIT orders");
    expect(screen.getByTestId("ticket-quantity").getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(backend.placedOrders).toHaveLength(0);
  });

  it("checks bracket legs are on the right side of the entry", async () => {
    const user = userEvent.setup();
    renderApp({ page: "ticket" });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-take-profit-enabled"));
    await user.type(screen.getByTestId("ticket-take-profit-price"), "180");
    await user.click(screen.getByTestId("ticket-review"));
    expect(screen.getByTestId("error-take_profit.limit_price").textContent).toBe("must be above the entry limit price");
    await user.click(screen.getByTestId("ticket-side-sell"));
    expect(screen.queryByTestId("error-take_profit.limit_price")).toBeNull();
  });

  it("confirms with the exact notional, focus on Confirm, and Escape goes back", async () => {
    const user = userEvent.setup();
    const { backend } = renderApp({ page: "ticket" });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-review"));
    const dialog = screen.getByRole("dialog", { name: "Confirm order" });
    expect(within(dialog).getByTestId("confirm-notional").textContent).toBe("100 × 187.25 = 18,725.00 USD");
    expect(within(dialog).getByTestId("confirm-summary").textContent).toContain("BUY 100 AAPL LIMIT (limit 187.25) DAY");
    expect(document.activeElement).toBe(within(dialog).getByTestId("confirm-submit"));
    // Tab stays inside the dialog.
    await user.tab();
    expect(dialog.contains(document.activeElement)).toBe(true);
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(screen.getByTestId("ticket-review"));
    expect(backend.placedOrders).toHaveLength(0);
  });

  it("places the order and shows the server's answer", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.placeOrder = (request) =>
      create(PlaceOrderResponseSchema, {
        order: order("ord_01", { status: OrderStatus.SUBMITTED, quantity: request.quantity }),
        bracketOrders: [order("ord_02"), order("ord_03")],
      });
    renderApp({ page: "ticket", backend });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-take-profit-enabled"));
    await user.type(screen.getByTestId("ticket-take-profit-price"), "190");
    await user.click(screen.getByTestId("ticket-stop-loss-enabled"));
    await user.type(screen.getByTestId("ticket-stop-loss-stop-price"), "185");
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    const result = await screen.findByTestId("ticket-result");
    expect(result.textContent).toContain("ord_01");
    expect(result.textContent).toContain("Submitted");
    expect(result.textContent).toContain("2 bracket legs");
    const sent = backend.placedOrders[0];
    expect(sent?.contract?.symbol).toBe("AAPL");
    expect(sent?.side).toBe(Side.BUY);
    expect(sent?.quantity).toBe("100");
    expect(sent?.limitPrice).toBe("187.25");
    expect(sent?.takeProfit?.limitPrice).toBe("190");
    expect(sent?.stopLoss?.stopPrice).toBe("185");
    expect(sent?.clientOrderId).toMatch(/^web-/);
    expect(sent?.validateOnly).toBe(false);
  });

  it("shows a server error with its reason and field, and retries with the same client order id", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.placeOrder = () => {
      throw new ConnectError("invalid request: limit_price: too far from the market", Code.InvalidArgument, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "ORDER_VALIDATION_FAILED", domain: "ibkr.v1", metadata: { order_type: "LIMIT" } } },
        { desc: BadRequestSchema, value: { fieldViolations: [{ field: "limit_price", description: "too far from the market" }] } },
      ]);
    };
    renderApp({ page: "ticket", backend });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    const panel = await screen.findByTestId("ticket-server-error");
    expect(within(panel).getByTestId("error-reason").textContent).toBe("ORDER_VALIDATION_FAILED (invalid_argument)");
    expect(within(panel).getByTestId("error-field").textContent).toBe("limit_price: too far from the market");
    expect(panel.textContent).toContain("order_type=LIMIT");
    // The violation also lands on the input it names.
    expect(screen.getByTestId("error-limit_price").textContent).toBe("too far from the market");
    expect(screen.getByTestId("ticket-limit-price").getAttribute("aria-invalid")).toBe("true");

    // The same order again: the same idempotency key (AIP-155); a changed order: a new one.
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    await waitFor(() => {
      expect(backend.placedOrders).toHaveLength(2);
    });
    expect(backend.placedOrders[1]?.clientOrderId).toBe(backend.placedOrders[0]?.clientOrderId);
    await user.clear(screen.getByTestId("ticket-limit-price"));
    await user.type(screen.getByTestId("ticket-limit-price"), "187.2");
    // Edited: the field is no longer marked, the panel stays until the next attempt.
    expect(screen.queryByTestId("error-limit_price")).toBeNull();
    expect(screen.getByTestId("ticket-server-error")).toBeTruthy();
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    await waitFor(() => {
      expect(backend.placedOrders).toHaveLength(3);
    });
    expect(backend.placedOrders[2]?.clientOrderId).not.toBe(backend.placedOrders[0]?.clientOrderId);
  });

  it("asks the server for a what-if preview without placing the order", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.placeOrder = (request) =>
      create(PlaceOrderResponseSchema, {
        preview: request.validateOnly
          ? { notional: "18725", currency: "USD", commissionMinimum: "1", commissionMaximum: "1.5", warnings: ["far from the market"] }
          : undefined,
      });
    renderApp({ page: "ticket", backend });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-preview-button"));
    const preview = await screen.findByTestId("confirm-preview");
    expect(preview.textContent).toContain("18,725.00 USD");
    expect(preview.textContent).toContain("1.00 – 1.50");
    expect(preview.textContent).toContain("far from the market");
    expect(backend.placedOrders.map((request) => request.validateOnly)).toEqual([true]);
    expect(screen.getByRole("dialog")).toBeTruthy();
  });

  it("shows a trading-mode mismatch with its message, and warns before it is hit", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.placeOrder = () => {
      throw new ConnectError("TRADING_MODE is paper but the gateway manages live accounts U123", Code.FailedPrecondition, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "TRADING_MODE_MISMATCH", domain: "ibkr.v1" } },
      ]);
    };
    renderApp({ page: "ticket", backend });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    const panel = await screen.findByTestId("ticket-server-error");
    expect(within(panel).getByTestId("error-reason").textContent).toBe("TRADING_MODE_MISMATCH (failed_precondition)");
    expect(within(panel).getByTestId("error-summary").textContent).toContain(
      "new orders and modifications are refused until the configuration is fixed",
    );
    expect(panel.textContent).toContain("TRADING_MODE is paper but the gateway manages live accounts U123");

    backend.setGatewayStatus({ tradingBlockedReason: "TRADING_MODE is paper but the gateway manages live accounts U123" });
    expect((await screen.findByTestId("ticket-trading-blocked")).textContent).toBe(
      "Orders are refused: TRADING_MODE is paper but the gateway manages live accounts U123",
    );
  });

  it("keeps the client order id of an order IB never received, so the same ticket sends it once", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.placeOrder = (request) =>
      create(PlaceOrderResponseSchema, {
        order: order("ord_01", { status: OrderStatus.NOT_SENT, clientOrderId: request.clientOrderId }),
      });
    renderApp({ page: "ticket", backend });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    const result = await screen.findByTestId("ticket-result");
    expect(result.textContent).toContain("Not sent");
    const clientOrderId = backend.placedOrders[0]?.clientOrderId ?? "";
    expect(within(result).getByTestId("ticket-result-hint").textContent).toContain(
      `Submitting this same ticket again sends it, once, with the same client order id ${clientOrderId}`,
    );
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    await waitFor(() => {
      expect(backend.placedOrders).toHaveLength(2);
    });
    expect(backend.placedOrders[1]?.clientOrderId).toBe(clientOrderId);
  });

  it("gives a new client order id to the same ticket once IB has the order", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    renderApp({ page: "ticket", backend });
    await fillLimitOrder(user);
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    await screen.findByTestId("ticket-result");
    expect(screen.queryByTestId("ticket-result-hint")).toBeNull();
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    await waitFor(() => {
      expect(backend.placedOrders).toHaveLength(2);
    });
    expect(backend.placedOrders[1]?.clientOrderId).not.toBe(backend.placedOrders[0]?.clientOrderId);
  });

  it("warns that orders are refused while the gateway is not READY", async () => {
    const backend = new FakeBackend();
    backend.setGatewayStatus({ state: ConnectionState.SYNCING });
    renderApp({ page: "ticket", backend });
    expect((await screen.findByTestId("ticket-gateway-warning")).textContent).toContain("Gateway SYNCING");
  });

  it("takes an option contract and prices its notional with the multiplier", async () => {
    const user = userEvent.setup();
    const { backend } = renderApp({ page: "ticket" });
    await user.type(screen.getByTestId("ticket-symbol"), "AAPL");
    await user.selectOptions(screen.getByTestId("ticket-security-type"), String(SecurityType.OPTION));
    await user.type(screen.getByTestId("ticket-expiry"), "20261218");
    await user.type(screen.getByTestId("ticket-strike"), "200");
    await user.selectOptions(screen.getByTestId("ticket-right"), String(OptionRight.CALL));
    await user.type(screen.getByTestId("ticket-multiplier"), "100");
    await user.type(screen.getByTestId("ticket-quantity"), "2");
    await user.type(screen.getByTestId("ticket-limit-price"), "3.45");
    await user.click(screen.getByTestId("ticket-review"));
    expect(screen.getByTestId("confirm-notional").textContent).toBe("2 × 3.45 × 100 = 690.00 USD");
    expect(screen.getByTestId("confirm-summary").textContent).toContain("AAPL 20261218 200 C");
    await user.click(screen.getByTestId("confirm-submit"));
    await waitFor(() => {
      expect(backend.placedOrders).toHaveLength(1);
    });
    expect(backend.placedOrders[0]?.contract).toMatchObject({
      symbol: "AAPL",
      securityType: SecurityType.OPTION,
      lastTradeDateOrContractMonth: "20261218",
      strike: "200",
      right: OptionRight.CALL,
      multiplier: "100",
    });
  });

  it("asks for the account when the gateway manages several", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.setGatewayStatus({ managedAccounts: ["DU111", "DU222"] });
    renderApp({ page: "ticket", backend });
    await fillLimitOrder(user);
    await user.click(await screen.findByTestId("ticket-review"));
    expect(screen.getByTestId("error-account").textContent).toContain("is required");
    await user.selectOptions(screen.getByTestId("ticket-account"), "DU222");
    await user.click(screen.getByTestId("ticket-review"));
    await user.click(screen.getByTestId("confirm-submit"));
    await waitFor(() => {
      expect(backend.placedOrders[0]?.account).toBe("DU222");
    });
  });

  it("opens from anywhere with the N, B and S hotkeys", async () => {
    const user = userEvent.setup();
    renderApp({ page: "positions" });
    await user.keyboard("s");
    expect(screen.getByTestId("ticket-side-sell")).toHaveProperty("checked", true);
    expect(document.activeElement).toBe(screen.getByTestId("ticket-symbol"));
    await user.click(screen.getByTestId("nav-orders"));
    await user.keyboard("n");
    expect(screen.getByTestId("ticket-side-buy")).toHaveProperty("checked", true);
  });
});
