import { create } from "@bufbuild/protobuf";
import { PositionSchema, StreamPortfolioResponseSchema } from "@ibkr-grpc/client";
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
    expect(totals()).toEqual(["Total USD", "6,000.00", "+105.45", "+10.20", "", "USD"]);
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
