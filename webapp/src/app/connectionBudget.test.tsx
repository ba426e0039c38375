import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { expect, it } from "vitest";
import { FakeBackend } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";

// A browser opens at most six HTTP/1.1 connections to one server and every stream holds one for
// as long as it runs: with six streams, an order command waits forever for a connection.
it("never holds more than five streams open, whatever the pages show", async () => {
  const user = userEvent.setup();
  const backend = new FakeBackend();
  backend.setGatewayStatus({ managedAccounts: ["DU111", "DU222"] });
  renderApp({ page: "dashboard", backend });
  await waitFor(() => {
    expect(backend.openStreams).toBe(5);
  });
  await user.click(screen.getByTestId("nav-ticket"));
  await user.type(screen.getByTestId("ticket-symbol"), "TSLA");
  await waitFor(() => {
    expect(backend.quoteStreamSymbols.at(-1)).toEqual(["AAPL", "MSFT", "SPY", "TSLA"]);
  });
  // The ticket's depth ladder streams on the connection the trading state lends it.
  await waitFor(() => {
    expect(backend.derivatives.depthRequests.at(-1)?.contract?.symbol).toBe("TSLA");
  });
  expect(backend.openStreams).toBe(5);
  // So does the option chain.
  await user.click(screen.getByTestId("nav-options"));
  await user.type(screen.getByTestId("chain-symbol"), "AAPL");
  await user.click(screen.getByTestId("chain-load"));
  await waitFor(() => {
    expect(backend.derivatives.chainRequests).toHaveLength(1);
  });
  expect(backend.openStreams).toBe(5);
  for (const page of ["positions", "watchlist", "orders", "dashboard"]) {
    await user.click(screen.getByTestId(`nav-${page}`));
  }
  await waitFor(() => {
    expect(backend.openStreams).toBe(5);
  });
  expect(backend.maxOpenStreams).toBeLessThanOrEqual(5);
});
