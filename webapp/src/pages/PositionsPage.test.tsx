import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ContractSchema,
  OptionRight,
  OrderType,
  PositionSchema,
  SecurityType,
  Side,
  StreamPortfolioResponseSchema,
} from "@ibkr-grpc/client";
import type { Position } from "@ibkr-grpc/client";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { FakeBackend, stock } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";

function position(symbol: string, quantity: string, unrealizedPnl: string, realizedPnl = "0", dailyPnl = ""): Position {
  return create(PositionSchema, {
    account: "DU111",
    contract: stock(symbol),
    quantity,
    averageCost: "100",
    marketPrice: "101",
    marketValue: quantity === "0" ? "0" : `${quantity}00`,
    unrealizedPnl,
    realizedPnl,
    dailyPnl,
    currency: "USD",
  });
}

const message = (value: Position) => create(StreamPortfolioResponseSchema, { payload: { case: "position", value } });

function symbols(): string[] {
  return screen.getAllByTestId("position-row").map((row) => row.querySelector("td:nth-child(2)")?.textContent ?? "");
}

describe("positions", () => {
  function setup() {
    const backend = new FakeBackend();
    backend.portfolioSnapshot = [
      message(position("MSFT", "-50", "-20.25")),
      message(position("AAPL", "100", "125.5", "10.1")),
      message(position("SPY", "10", "0.2", "0.1")),
    ];
    renderApp({ page: "positions", backend });
    return backend;
  }

  it("sorts by any column, numerically", async () => {
    const user = userEvent.setup();
    setup();
    await waitFor(() => {
      expect(symbols()).toEqual(["AAPL", "MSFT", "SPY"]);
    });
    await user.click(screen.getByTestId("sort-unrealizedPnl"));
    expect(symbols()).toEqual(["AAPL", "SPY", "MSFT"]);
    expect(screen.getByTestId("sort-unrealizedPnl").closest("th")?.getAttribute("aria-sort")).toBe("descending");
    await user.click(screen.getByTestId("sort-unrealizedPnl"));
    expect(symbols()).toEqual(["MSFT", "SPY", "AAPL"]);
    await user.click(screen.getByTestId("sort-quantity"));
    expect(symbols()).toEqual(["AAPL", "SPY", "MSFT"]);
  });

  it("filters by symbol and totals PnL exactly", async () => {
    const user = userEvent.setup();
    setup();
    await waitFor(() => {
      expect(symbols()).toHaveLength(3);
    });
    // 125.5 - 20.25 + 0.2 = 105.45; 10.1 + 0 + 0.1 = 10.2 (0.1 + 0.2-style float error would show).
    const total = screen.getByTestId("positions-total-USD").textContent;
    expect(total).toContain("+105.45");
    expect(total).toContain("+10.20");
    await user.type(screen.getByTestId("positions-filter"), "ms");
    expect(symbols()).toEqual(["MSFT"]);
    expect(screen.getByTestId("positions-total-USD").textContent).toContain("-20.25");
  });

  it("leaves a total blank unless every position has the figure", async () => {
    const backend = setup();
    await waitFor(() => {
      expect(symbols()).toHaveLength(3);
    });
    // Total, market value, unrealized, realized, daily, currency.
    const totals = () =>
      [...screen.getByTestId("positions-total-USD").children].map((cell) => cell.textContent);
    // No position has a daily PnL yet: the total is unknown, not 0.00.
    expect(totals()).toEqual(["Total USD", "6,000.00", "+105.45", "+10.20", "", "USD", ""]);
    backend.portfolioQueues[0]?.push(message(position("AAPL", "100", "125.5", "10.1", "3.5")));
    backend.portfolioQueues[0]?.push(message(position("MSFT", "-50", "-20.25", "0", "-1.25")));
    await waitFor(() => {
      expect(screen.getAllByTestId("position-row")[0]?.textContent).toContain("+3.50");
    });
    // Two of three: still not a total.
    expect(totals()[4]).toBe("");
    backend.portfolioQueues[0]?.push(message(position("SPY", "10", "0.2", "0.1", "0")));
    await waitFor(() => {
      expect(totals()[4]).toBe("+2.25");
    });
  });

  it("applies live changes and drops a position that went to zero", async () => {
    const backend = setup();
    await waitFor(() => {
      expect(symbols()).toHaveLength(3);
    });
    backend.portfolioQueues[0]?.push(message(position("MSFT", "0", "0")));
    backend.portfolioQueues[0]?.push(message(position("NVDA", "5", "1")));
    await waitFor(() => {
      expect(symbols()).toEqual(["AAPL", "NVDA", "SPY"]);
    });
  });
});

describe("options and futures", () => {
  it("show their type, expiry, strike and right, multiplier, cost per contract and price per unit", async () => {
    const backend = new FakeBackend();
    const option = create(ContractSchema, {
      conId: 1001n,
      symbol: "AAPL",
      securityType: SecurityType.OPTION,
      lastTradeDateOrContractMonth: "20260320",
      strike: "180",
      right: OptionRight.PUT,
      multiplier: "100",
    });
    const future = create(ContractSchema, {
      conId: 2002n,
      symbol: "ES",
      securityType: SecurityType.FUTURE,
      lastTradeDateOrContractMonth: "20260320",
      multiplier: "50",
    });
    backend.portfolioSnapshot = [
      message(create(PositionSchema, { ...position("AAPL", "-1", "12"), contract: option, averageCost: "201.3", averagePrice: "2.013", multiplier: "100" })),
      message(create(PositionSchema, { ...position("ES", "2", "500"), contract: future, averageCost: "262500", averagePrice: "5250", multiplier: "50" })),
    ];
    renderApp({ page: "positions", backend });
    await waitFor(() => {
      expect(symbols()).toEqual(["AAPL 20260320 180 P", "ES 20260320"]);
    });
    const rows = screen.getAllByTestId("position-row");
    const cells = (row: HTMLElement | undefined) =>
      ["type", "quantity", "multiplier", "averageCost", "averagePrice"].map(
        (column) => row?.querySelector(`[data-column="${column}"]`)?.textContent ?? "",
      );
    expect(cells(rows[0])).toEqual(["OPTION", "-1", "100", "201.3", "2.013"]);
    expect(cells(rows[1])).toEqual(["FUTURE", "2", "50", "262,500", "5,250"]);
  });
});

describe("closing a position", () => {
  function cell(symbol: string, column: string): string {
    const row = screen.getAllByTestId("position-row").find((candidate) => candidate.textContent.includes(symbol));
    return row?.querySelector(`[data-column="${column}"]`)?.textContent ?? "";
  }

  it("shows PnL and the day's change in percent", async () => {
    const backend = new FakeBackend();
    backend.portfolioSnapshot = [message(position("AAPL", "100", "125.5", "0", "-50")), message(position("MSFT", "-50", "-20.25"))];
    renderApp({ page: "positions", backend });
    await waitFor(() => {
      expect(cell("AAPL", "pnlPercent")).toBe("+1.26 %");
    });
    // 125.5 / (100 x 100); the day: -50 / (10000 - -50).
    expect(cell("AAPL", "dayPercent")).toBe("-0.5 %");
    // A short's basis is |quantity| x average cost.
    expect(cell("MSFT", "pnlPercent")).toBe("-0.41 %");
    expect(cell("MSFT", "dayPercent")).toBe("");
  });

  it("sells a long position's whole quantity at market after a confirmation, with a fresh client order id", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.portfolioSnapshot = [message(position("AAPL", "100", "125.5")), message(position("MSFT", "-50", "-20.25"))];
    renderApp({ page: "positions", backend });
    await user.click(await screen.findByRole("button", { name: "Close AAPL position in DU111" }));
    expect(screen.getByTestId("close-position-summary").textContent).toBe("SELL 100 AAPL MARKET DAY");
    // Nothing is sent before the confirmation.
    expect(backend.placedOrders).toHaveLength(0);
    await user.click(screen.getByTestId("close-position-confirm"));
    await waitFor(() => {
      expect(screen.getByTestId("positions-notice").textContent).toBe("Close order ord_placed for AAPL: Submitted");
    });
    const [placed] = backend.placedOrders;
    expect(placed).toMatchObject({ account: "DU111", side: Side.SELL, quantity: "100", orderType: OrderType.MARKET });
    expect(placed?.contract).toMatchObject({ symbol: "AAPL", exchange: "SMART" });
    expect(placed?.clientOrderId).toMatch(/^web-/);

    // A short is bought back; each close has its own client order id.
    await user.click(screen.getByRole("button", { name: "Close MSFT position in DU111" }));
    expect(screen.getByTestId("close-position-summary").textContent).toBe("BUY 50 MSFT MARKET DAY");
    await user.click(screen.getByTestId("close-position-confirm"));
    await waitFor(() => {
      expect(backend.placedOrders).toHaveLength(2);
    });
    expect(backend.placedOrders[1]?.side).toBe(Side.BUY);
    expect(backend.placedOrders[1]?.clientOrderId).not.toBe(placed?.clientOrderId);
  });

  it("says why it cannot close while trading is halted, and shows the server's refusal", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.portfolioSnapshot = [message(position("AAPL", "100", "125.5"))];
    backend.setTradingState("", { halted: true, reason: "risk review" });
    renderApp({ page: "positions", backend });
    await user.click(await screen.findByRole("button", { name: "Close AAPL position in DU111" }));
    await waitFor(() => {
      expect(screen.getByTestId("close-position-blocked").textContent).toContain("risk review");
    });
    expect(screen.getByTestId("close-position-confirm")).toHaveProperty("disabled", true);
    await user.click(screen.getByTestId("close-position-cancel"));

    backend.setTradingState("", { halted: false });
    backend.placeOrder = () => {
      throw new ConnectError("position limit", Code.FailedPrecondition);
    };
    await waitFor(() => {
      expect(screen.queryByTestId("halt-banner")).toBeNull();
    });
    await user.click(screen.getByRole("button", { name: "Close AAPL position in DU111" }));
    await user.click(screen.getByTestId("close-position-confirm"));
    expect((await screen.findByTestId("close-position-error")).textContent).toContain("position limit");
    expect(screen.getByTestId("close-position-dialog")).toBeTruthy();
  });
});
