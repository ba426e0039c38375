import { create } from "@bufbuild/protobuf";
import {
  ContractDescriptionSchema,
  ErrorReason,
  QuoteSchema,
  StreamQuotesResponseSchema,
  SubscriptionErrorSchema,
} from "@ibkr-grpc/client";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { FakeBackend, stock } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";

function lastStream(backend: FakeBackend) {
  return backend.quoteStreamSymbols[backend.quoteStreamSymbols.length - 1];
}

describe("watchlist", () => {
  it("streams quotes for the watched set, one stream at a time", async () => {
    const backend = new FakeBackend();
    renderApp({ page: "watchlist", backend });
    await waitFor(() => {
      expect(within(screen.getByTestId("watch-row-AAPL")).getByTestId("quote-last").textContent).toBe("10.01");
    });
    expect(backend.quoteStreamSymbols).toEqual([["AAPL", "MSFT", "SPY"]]);
    expect(within(screen.getByTestId("watch-row-SPY")).getByTestId("quote-bid").textContent).toBe("10.00");
    // last - close, exactly: 10.01 - 9.50.
    expect(screen.getByTestId("watch-row-MSFT").textContent).toContain("+0.51");
    expect(backend.openQuoteStreams).toBe(1);
  });

  it("reopens the quote stream when a symbol is added from the search or removed", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.searchResults = [
      create(ContractDescriptionSchema, { contract: stock("NVDA", 4815n), description: "NVIDIA CORP" }),
    ];
    renderApp({ page: "watchlist", backend });
    await waitFor(() => {
      expect(backend.quoteStreamSymbols).toHaveLength(1);
    });

    await user.type(screen.getByTestId("watchlist-search"), "nvid");
    await user.click(screen.getByTestId("watchlist-search-submit"));
    await user.click(await screen.findByRole("button", { name: "Add NVDA" }));
    await waitFor(() => {
      expect(lastStream(backend)).toEqual(["AAPL", "MSFT", "SPY", "NVDA"]);
    });
    await waitFor(() => {
      expect(within(screen.getByTestId("watch-row-NVDA")).getByTestId("quote-last").textContent).toBe("10.01");
    });
    // The previous stream was closed: one stream for the current set.
    await waitFor(() => {
      expect(backend.openQuoteStreams).toBe(1);
    });

    await user.click(screen.getByRole("button", { name: "Remove MSFT" }));
    await waitFor(() => {
      expect(lastStream(backend)).toEqual(["AAPL", "SPY", "NVDA"]);
    });
    expect(screen.queryByTestId("watch-row-MSFT")).toBeNull();
    await waitFor(() => {
      expect(backend.openQuoteStreams).toBe(1);
    });
    expect(backend.quoteStreamSymbols).toHaveLength(3);

    // The watchlist survives a reload (localStorage).
    expect(window.localStorage.getItem("ibkr-grpc.watchlist")).toContain("NVDA");
  });

  it("gives up a search that newer words replace, and lists only the newest answer", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    let firstSearch: AbortSignal | undefined;
    backend.answerSearch = (query, signal) => {
      if (query !== "nvid") {
        return [create(ContractDescriptionSchema, { contract: stock("AMD", 4391n), description: "ADVANCED MICRO DEVICES" })];
      }
      // Never answered: the search for "nvid" runs until the client gives it up.
      firstSearch = signal;
      return new Promise(() => undefined);
    };
    renderApp({ page: "watchlist", backend });

    await user.type(screen.getByTestId("watchlist-search"), "nvid");
    await user.click(screen.getByTestId("watchlist-search-submit"));
    await waitFor(() => {
      expect(firstSearch).toBeDefined();
    });
    // The same words cannot be sent twice while they are searched; other words can.
    expect(screen.getByTestId("watchlist-search-submit")).toHaveProperty("disabled", true);
    await user.clear(screen.getByTestId("watchlist-search"));
    await user.type(screen.getByTestId("watchlist-search"), "amd");
    await user.click(screen.getByTestId("watchlist-search-submit"));
    await screen.findByRole("button", { name: "Add AMD" });
    await waitFor(() => {
      expect(firstSearch?.aborted).toBe(true);
    });
    expect(screen.queryByRole("button", { name: "Add NVDA" })).toBeNull();

    // The same words again search again.
    await user.click(screen.getByTestId("watchlist-search-submit"));
    await waitFor(() => {
      expect(backend.searchQueries).toEqual(["nvid", "amd", "amd"]);
    });
  });

  it("closes the stream when nothing is watched", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    renderApp({ page: "watchlist", backend });
    for (const symbol of ["AAPL", "MSFT", "SPY"]) {
      await user.click(await screen.findByRole("button", { name: `Remove ${symbol}` }));
    }
    await waitFor(() => {
      expect(backend.openQuoteStreams).toBe(0);
    });
    expect(screen.getByText(/Nothing watched/)).toBeTruthy();
  });

  it("shows live updates and subscription errors per row", async () => {
    const backend = new FakeBackend();
    renderApp({ page: "watchlist", backend });
    await waitFor(() => {
      expect(backend.quoteQueues).toHaveLength(1);
    });
    const queue = backend.quoteQueues[0];
    queue?.push(
      create(StreamQuotesResponseSchema, {
        payload: { case: "quote", value: create(QuoteSchema, { contract: stock("AAPL", 265598n), last: "187.3", close: "187.25" }) },
      }),
    );
    queue?.push(
      create(StreamQuotesResponseSchema, {
        payload: {
          case: "subscriptionError",
          value: create(SubscriptionErrorSchema, {
            contract: stock("SPY"),
            reason: ErrorReason.IB_MARKET_DATA_ERROR,
            message: "no market data permissions",
          }),
        },
      }),
    );
    await waitFor(() => {
      expect(within(screen.getByTestId("watch-row-AAPL")).getByTestId("quote-last").textContent).toBe("187.3");
    });
    expect(screen.getByTestId("watch-row-AAPL").textContent).toContain("+0.05");
    await waitFor(() => {
      expect(screen.getByTestId("watch-row-SPY").textContent).toContain("IB_MARKET_DATA_ERROR: no market data permissions");
    });
  });

  it("charts the selected symbol", async () => {
    const user = userEvent.setup();
    renderApp({ page: "watchlist" });
    expect(await screen.findByRole("img", { name: "AAPL candlesticks, 5m bars over 1 day" })).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Chart SPY" }));
    expect(await screen.findByRole("img", { name: "SPY candlesticks, 5m bars over 1 day" })).toBeTruthy();
  });

  it("opens the order ticket for a row", async () => {
    const user = userEvent.setup();
    renderApp({ page: "watchlist" });
    await user.click(await screen.findByRole("button", { name: "Sell MSFT" }));
    expect(screen.getByTestId("ticket-symbol")).toHaveProperty("value", "MSFT");
    expect(screen.getByTestId("ticket-side-sell")).toHaveProperty("checked", true);
    expect(document.activeElement).toBe(screen.getByTestId("ticket-quantity"));
  });
});
