import { create } from "@bufbuild/protobuf";
import {
  AccountSummarySchema,
  OrderEventType,
  OrderOrigin,
  OrderStatus,
  PnLSchema,
  PositionSchema,
  StreamPortfolioResponseSchema,
} from "@ibkr-grpc/client";
import userEvent from "@testing-library/user-event";
import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { FakeBackend, order, orderEvent, stock } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";
import { ACTIVITY_REPLAY_EVENTS } from "../state/LiveData";

describe("dashboard", () => {
  it("shows the gateway, account summary and PnL, live", async () => {
    const backend = new FakeBackend();
    backend.portfolioSnapshot = [
      create(StreamPortfolioResponseSchema, {
        payload: {
          case: "accountSummary",
          value: create(AccountSummarySchema, { account: "DU111", baseCurrency: "USD", netLiquidation: "1000000.5", buyingPower: "4000000" }),
        },
      }),
      create(StreamPortfolioResponseSchema, {
        payload: { case: "pnl", value: create(PnLSchema, { account: "DU111", dailyPnl: "-1234.5", unrealizedPnl: "10", realizedPnl: "0" }) },
      }),
    ];
    renderApp({ backend });
    const account = await screen.findByTestId("account-DU111");
    expect(account.textContent).toContain("1,000,000.50");
    expect(account.textContent).toContain("-1,234.50");
    expect(within(screen.getByTestId("gateway-panel")).getByText("127.0.0.1:4002 (client id 7)")).toBeTruthy();

    backend.portfolioQueues[0]?.push(
      create(StreamPortfolioResponseSchema, {
        payload: { case: "pnl", value: create(PnLSchema, { account: "DU111", dailyPnl: "250", unrealizedPnl: "10", realizedPnl: "0" }) },
      }),
    );
    await waitFor(() => {
      expect(screen.getByTestId("account-DU111").textContent).toContain("+250.00");
    });
  });

  it("lists recent order events, newest first", async () => {
    const backend = new FakeBackend();
    renderApp({ backend });
    await waitFor(() => {
      expect(backend.orderQueues).toHaveLength(1);
    });
    backend.appendOrderEvent(orderEvent(7n, order("ord_A")));
    backend.appendOrderEvent(orderEvent(8n, order("ord_B")));
    await waitFor(() => {
      expect(screen.getAllByTestId("activity-row")).toHaveLength(2);
    });
    expect(screen.getAllByTestId("activity-row")[0]?.textContent).toContain("BUY 100 AAPL");
    expect(screen.getAllByTestId("activity-row")[0]?.textContent).toContain("8");
  });

  it("replays the newest events when it opens (after a reload), then resumes after the last one", async () => {
    const backend = new FakeBackend();
    for (let sequence = 1n; sequence <= 150n; sequence += 1n) {
      backend.eventLog.push(orderEvent(sequence, order(`ord_${sequence}`)));
    }
    renderApp({ backend });
    await waitFor(() => {
      expect(screen.getAllByTestId("activity-row").length).toBeGreaterThan(0);
    });
    expect(backend.orderStreamReplayLast).toEqual([ACTIVITY_REPLAY_EVENTS]);
    expect(screen.getAllByTestId("activity-row")[0]?.textContent).toContain("150");
    // A dropped stream resumes after the last replayed event, not with another replay.
    backend.failOrderStreams();
    await waitFor(() => {
      expect(backend.orderStreamAfterSequences).toEqual([0n, 150n]);
    });
    expect(backend.orderStreamReplayLast).toEqual([ACTIVITY_REPLAY_EVENTS, 0]);
  });

  it("labels the new event types in words and makes a refused command stand out", async () => {
    const backend = new FakeBackend();
    renderApp({ backend });
    await waitFor(() => {
      expect(backend.orderQueues).toHaveLength(1);
    });
    backend.appendOrderEvent(orderEvent(1n, order("ord_A", { limitPrice: "186.5" }), OrderEventType.MODIFIED));
    const refused = orderEvent(2n, order("ord_A"), OrderEventType.COMMAND_REFUSED);
    refused.detail = "IB error 10147: OrderId 12 that needs to be cancelled is not found";
    backend.appendOrderEvent(refused);
    backend.appendOrderEvent(
      orderEvent(3n, order("ord_T", { origin: OrderOrigin.MANUAL, status: OrderStatus.SUBMITTED }), OrderEventType.DISCOVERED),
    );
    backend.appendOrderEvent(orderEvent(4n, order("ord_A", { status: OrderStatus.NOT_SENT })));
    await waitFor(() => {
      expect(screen.getAllByTestId("activity-row")).toHaveLength(4);
    });
    const [notSent, discovered, refusedRow, modified] = screen.getAllByTestId("activity-row");
    expect(within(modified as HTMLElement).getByTestId("activity-type").textContent).toBe("Modified");
    expect(modified?.className).not.toContain("activity-warning");

    expect(within(refusedRow as HTMLElement).getByTestId("activity-type").textContent).toBe("⚠ Modify/cancel refused");
    expect(refusedRow?.className).toContain("activity-warning");
    expect(within(refusedRow as HTMLElement).getByTestId("activity-detail").textContent).toBe(
      "IB error 10147: OrderId 12 that needs to be cancelled is not found. The order is unchanged.",
    );

    expect(within(discovered as HTMLElement).getByTestId("activity-type").textContent).toBe("Placed elsewhere");
    expect(discovered?.textContent).toContain("TWS / app");
    expect(notSent?.textContent).toContain("Not sent");
    // No raw enum names or numbers anywhere in the log.
    expect(screen.getByTestId("recent-activity").textContent).not.toMatch(/UNKNOWN|COMMAND_REFUSED|NOT_SENT/);
  });

  it("shows open positions and working orders beside the accounts, with Close and Cancel", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.portfolioSnapshot = [
      create(StreamPortfolioResponseSchema, {
        payload: {
          case: "position",
          value: create(PositionSchema, {
            account: "DU111",
            contract: stock("AAPL", 265598n),
            quantity: "5",
            averageCost: "190",
            marketPrice: "191",
            unrealizedPnl: "5",
            currency: "USD",
          }),
        },
      }),
    ];
    renderApp({ backend });
    const positions = await screen.findByTestId("dashboard-positions");
    await waitFor(() => {
      expect(within(positions).getAllByTestId("dashboard-position-row")).toHaveLength(1);
    });
    expect(within(positions).getByTestId("dashboard-position-row").textContent).toContain("+0.53 %");

    backend.appendOrderEvent(orderEvent(1n, order("ord_01J9Z8LONGIDENTIFIER", { limitPrice: "150" })));
    const working = screen.getByTestId("dashboard-working-orders");
    await waitFor(() => {
      expect(within(working).getByTestId("dashboard-order-row").textContent).toContain("AAPL …TIFIER");
    });
    expect(within(working).getByTestId("dashboard-order-row").textContent).toContain("BUY 100 LIMIT limit 150 DAY");
    await user.click(within(working).getByRole("button", { name: "Cancel order ord_01J9Z8LONGIDENTIFIER" }));
    expect(backend.cancelRequests.map((request) => request.orderId)).toEqual(["ord_01J9Z8LONGIDENTIFIER"]);

    await user.click(within(positions).getByRole("button", { name: "Close AAPL position in DU111" }));
    expect(screen.getByTestId("close-position-summary").textContent).toBe("SELL 5 AAPL MARKET DAY");
    await user.click(screen.getByTestId("close-position-confirm"));
    expect((await screen.findByTestId("dashboard-positions-notice")).textContent).toContain("Close order ord_placed for AAPL");
  });
});
