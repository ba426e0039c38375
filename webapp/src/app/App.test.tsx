import { create } from "@bufbuild/protobuf";
import { ConnectionState, StreamMarkerSchema, StreamMarkerType, StreamQuotesResponseSchema } from "@ibkr-grpc/client";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";

function bannerText(): string {
  return screen.queryByTestId("status-banner")?.textContent ?? "";
}

describe("status banner", () => {
  it("says when the gateway is not READY, and goes away when it is", async () => {
    const backend = new FakeBackend();
    renderApp({ backend });
    await waitFor(() => {
      expect(screen.getByTestId("gateway-state").textContent).toBe("READY");
    });
    expect(screen.queryByTestId("status-banner")).toBeNull();

    backend.setGatewayStatus({
      state: ConnectionState.DISCONNECTED,
      reconnectAttempts: 2,
      lastError: "Connectivity between IB and TWS has been lost",
    });
    await waitFor(() => {
      expect(bannerText()).toContain(
        "Gateway DISCONNECTED (reconnect attempt 2): disconnected from IB Gateway; orders are not accepted until it is READY.",
      );
    });
    expect(bannerText()).toContain("Connectivity between IB and TWS has been lost");
    expect(screen.getByTestId("gateway-state").textContent).toBe("DISCONNECTED");

    backend.setGatewayStatus({ state: ConnectionState.SYNCING });
    await waitFor(() => {
      expect(bannerText()).toContain("Gateway SYNCING");
    });
    backend.setGatewayStatus({ state: ConnectionState.READY, lastError: "" });
    await waitFor(() => {
      expect(screen.queryByTestId("status-banner")).toBeNull();
    });
  });

  it("says when a stream is disconnected and reconnecting, and clears once it is back", async () => {
    const backend = new FakeBackend();
    backend.portfolioDown = true;
    renderApp({ backend });
    await waitFor(() => {
      expect(bannerText()).toMatch(/Portfolio stream disconnected, reconnecting \(attempt \d+\): unavailable upstream connect error/);
    });
    // The app keeps working meanwhile: pages switch, other streams are live.
    await userEvent.setup().click(screen.getByTestId("nav-positions"));
    expect(screen.getByRole("main", { name: "Positions" })).toBeTruthy();

    backend.portfolioDown = false;
    await waitFor(() => {
      expect(screen.queryByTestId("status-banner")).toBeNull();
    });
  });

  it("says when the server paused a stream because IB Gateway disconnected", async () => {
    const backend = new FakeBackend();
    renderApp({ backend });
    await waitFor(() => {
      expect(backend.quoteQueues).toHaveLength(1);
    });
    const marker = (type: StreamMarkerType, detail: string) =>
      create(StreamQuotesResponseSchema, { payload: { case: "marker", value: create(StreamMarkerSchema, { type, detail }) } });
    backend.quoteQueues[0]?.push(marker(StreamMarkerType.GATEWAY_DISCONNECTED, "IB error 1100"));
    await waitFor(() => {
      expect(bannerText()).toContain("Quotes: data paused, IB Gateway disconnected (IB error 1100)");
    });
    backend.quoteQueues[0]?.push(marker(StreamMarkerType.GATEWAY_RECONCILED, ""));
    await waitFor(() => {
      expect(screen.queryByTestId("status-banner")).toBeNull();
    });
  });
});

it("marks the gateway state stale while its status stream is down", async () => {
  const backend = new FakeBackend();
  renderApp({ backend });
  await waitFor(() => {
    expect(screen.getByTestId("gateway-state").textContent).toBe("READY");
  });
  backend.gatewayDown = true;
  backend.gatewayQueues.splice(0).forEach((queue) => {
    queue.fail(new Error("stream reset"));
  });
  await waitFor(() => {
    expect(screen.getByTestId("gateway-state").textContent).toBe("READY (stale)");
  });
  expect(screen.getByTestId("gateway-state").className).toContain("pill-bad");
  expect(bannerText()).toContain("Gateway status stream disconnected, reconnecting");
  backend.gatewayDown = false;
  await waitFor(() => {
    expect(screen.getByTestId("gateway-state").textContent).toBe("READY");
  });
});

describe("API token", () => {
  it("is kept in sessionStorage and sent as a bearer token, restarting the streams", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    renderApp({ backend, token: "" });
    // Gateway, portfolio, order events, quotes and trading state (of DU111, the only account).
    await waitFor(() => {
      expect(backend.authorizationHeaders.length).toBeGreaterThanOrEqual(5);
    });
    expect(backend.authorizationHeaders.every((header) => header === null)).toBe(true);

    await user.click(screen.getByTestId("token-toggle"));
    await user.type(screen.getByTestId("token-input"), "eyJhbGciOi.test.token");
    await user.click(screen.getByTestId("token-save"));
    expect(window.sessionStorage.getItem("ibkr-grpc.apiToken")).toBe("eyJhbGciOi.test.token");
    expect(screen.getByTestId("token-toggle").textContent).toBe("API token: set");
    // Every stream reopens with the token.
    await waitFor(() => {
      expect(backend.authorizationHeaders.filter((header) => header === "Bearer eyJhbGciOi.test.token")).toHaveLength(5);
    });
    expect(backend.orderStreamAfterSequences).toEqual([0n, 0n]);

    await user.click(screen.getByTestId("token-toggle"));
    await user.click(screen.getByTestId("token-clear"));
    expect(window.sessionStorage.getItem("ibkr-grpc.apiToken")).toBeNull();
  });
});

describe("keyboard", () => {
  it("switches pages with 1-5, but not while typing", async () => {
    const user = userEvent.setup();
    renderApp({ page: "dashboard" });
    await user.keyboard("4");
    expect(screen.getByRole("main", { name: "Positions" })).toBeTruthy();
    expect(screen.getByTestId("nav-positions").getAttribute("aria-current")).toBe("page");
    await user.click(screen.getByTestId("positions-filter"));
    await user.keyboard("3");
    expect(screen.getByRole("main", { name: "Positions" })).toBeTruthy();
    expect(screen.getByTestId("positions-filter")).toHaveProperty("value", "3");
    await user.click(screen.getByTestId("nav-watchlist"));
    await user.keyboard("3");
    expect(screen.getByRole("main", { name: "Orders" })).toBeTruthy();
    expect(window.location.hash).toBe("#/orders");
  });
});
