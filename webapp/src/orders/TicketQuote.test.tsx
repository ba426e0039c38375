import { create } from "@bufbuild/protobuf";
import { ContractSchema, QuoteSchema, SecurityType, StreamQuotesResponseSchema } from "@ibkr-grpc/client";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";
import { spreadOf } from "./TicketQuote";

const text = (testId: string) => screen.getByTestId(testId).textContent;

describe("the ticket's market", () => {
  it("shows live bid, ask, last, spread and change of a watched symbol, and the notional as you type", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    renderApp({ page: "ticket", backend });
    expect(text("ticket-quote")).toBe("Enter a symbol to see its market.");
    await user.type(screen.getByTestId("ticket-symbol"), "aapl");
    await waitFor(() => {
      expect(text("ticket-bid")).toBe("10.00");
    });
    expect(text("ticket-ask")).toBe("10.02");
    expect(text("ticket-last")).toBe("10.01");
    expect(text("ticket-spread")).toBe("0.02");
    expect(text("ticket-change")).toBe("+5.37 %");
    // AAPL is on the watchlist: its stream serves the ticket, no second subscription.
    expect(backend.quoteStreamSymbols).toEqual([["AAPL", "MSFT", "SPY"]]);

    await user.type(screen.getByTestId("ticket-quantity"), "30");
    await user.type(screen.getByTestId("ticket-limit-price"), "10.005");
    expect(text("ticket-notional")).toBe("Notional 300.15 USD (30 × 10.005, limit price)");

    // A tick moves the prices and flashes them.
    backend.quoteQueues[0]?.push(
      create(StreamQuotesResponseSchema, {
        payload: {
          case: "quote",
          value: create(QuoteSchema, {
            contract: create(ContractSchema, { symbol: "AAPL", securityType: SecurityType.STOCK, currency: "USD" }),
            bid: "9.98",
            ask: "10.03",
            last: "10.03",
            close: "9.50",
          }),
        },
      }),
    );
    await waitFor(() => {
      expect(text("ticket-ask")).toBe("10.03");
    });
    expect(screen.getByTestId("ticket-ask").getAttribute("data-tick")).toBe("up");
    expect(screen.getByTestId("ticket-bid").getAttribute("data-tick")).toBe("down");
    expect(text("ticket-spread")).toBe("0.05");

    // Clicking a price puts it in the limit price.
    await user.click(screen.getByRole("button", { name: "Use bid 9.98 as the limit price" }));
    expect(screen.getByTestId("ticket-limit-price")).toHaveProperty("value", "9.98");

    // A market order is priced from the last trade.
    await user.selectOptions(screen.getByTestId("ticket-order-type"), "1");
    expect(text("ticket-notional")).toBe("Notional ≈ 300.90 USD (30 × 10.03, last price)");
  });

  it("subscribes a symbol that is not watched once typing stops", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    renderApp({ page: "ticket", backend });
    await user.type(screen.getByTestId("ticket-symbol"), "TSLA");
    await waitFor(() => {
      expect(text("ticket-last")).toBe("10.01");
    });
    // It joins the app's one quote stream, as the whole symbol, never its prefixes.
    expect(backend.quoteStreamSymbols.slice(1)).toEqual([["AAPL", "MSFT", "SPY", "TSLA"]]);
    expect(backend.openQuoteStreams).toBe(1);
    // Leaving the ticket leaves the stream with the watchlist only.
    await user.click(screen.getByTestId("nav-orders"));
    await waitFor(() => {
      expect(backend.quoteStreamSymbols.at(-1)).toEqual(["AAPL", "MSFT", "SPY"]);
    });
  });

  it("computes the spread exactly", () => {
    expect(spreadOf("187.1", "187.13")).toBe("0.03");
    expect(spreadOf("", "187.13")).toBe("");
  });
});
