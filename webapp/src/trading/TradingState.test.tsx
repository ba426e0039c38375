import { ConnectionState, HaltCause } from "@ibkr-grpc/client";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { TRADING_STATE_POLL_MS } from "../state/LiveData";
import { FakeBackend } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";
import { ADMIN_TOKEN, TRADER_TOKEN } from "../test/tokens";

describe("trading halt", () => {
  it("shows a halt everywhere: header, banner, a disabled ticket; an admin resumes it", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.setTradingState("", { halted: true, cause: HaltCause.MANUAL, haltedBy: "carol", reason: "end of day" });
    renderApp({ page: "ticket", backend, token: ADMIN_TOKEN });

    const banner = await screen.findByTestId("halt-banner");
    expect(banner.textContent).toContain("Trading halted for every account, halted by an admin (carol): end of day.");
    // The session is READY but not green: the trading pill says HALTED.
    expect(screen.getByTestId("gateway-state").textContent).toBe("READY");
    expect(screen.getByTestId("gateway-state").className).not.toContain("pill-ok");
    expect(screen.getByTestId("trading-state").textContent).toBe("HALTED");
    // The ticket says why and cannot send.
    expect(screen.getByTestId("ticket-halted").textContent).toContain("end of day");
    expect(screen.getByTestId("ticket-review")).toHaveProperty("disabled", true);
    expect(screen.getByTestId("ticket-review").textContent).toBe("Trading unavailable");

    await user.click(within(banner).getByTestId("resume-trading"));
    const dialog = screen.getByTestId("resume-dialog");
    expect(within(dialog).getByTestId("resume-submit")).toHaveProperty("disabled", true);
    await user.type(within(dialog).getByTestId("resume-reason"), "checked the book");
    await user.click(within(dialog).getByTestId("resume-submit"));

    await waitFor(() => {
      expect(screen.queryByTestId("halt-banner")).toBeNull();
    });
    expect(backend.resumeRequests.map((request) => [request.account, request.reason])).toEqual([["", "checked the book"]]);
    expect(screen.queryByTestId("resume-dialog")).toBeNull();
    expect(screen.getByTestId("trading-state").textContent).toBe("Trading open");
    expect(screen.getByTestId("gateway-state").className).toContain("pill-ok");
    expect(screen.getByTestId("ticket-review")).toHaveProperty("disabled", false);
  });

  it("follows a halt that starts while the app is open, and an admin halts from the header", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    renderApp({ page: "dashboard", backend, token: ADMIN_TOKEN });
    await waitFor(() => {
      expect(screen.getByTestId("trading-state").textContent).toBe("Trading open");
    });
    await user.click(screen.getByTestId("header-halt"));
    await user.type(screen.getByTestId("halt-reason"), "runaway algo");
    await user.click(screen.getByTestId("halt-cancel-working"));
    await user.click(screen.getByTestId("halt-submit"));
    expect((await screen.findByTestId("halt-banner")).textContent).toContain("runaway algo");
    expect(backend.haltRequests.map((request) => [request.account, request.reason, request.cancelWorkingOrders])).toEqual([
      ["", "runaway algo", true],
    ]);
    expect(screen.getByTestId("trading-state").className).toContain("pill-alarm");
    expect(screen.getByTestId("header-resume")).toBeTruthy();
  });

  it("shows one account's halt, and blocks the ticket for that account only", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.setGatewayStatus({ managedAccounts: ["DU111", "DU222"] });
    backend.setTradingState("DU222", { halted: true, cause: HaltCause.DAILY_LOSS, haltedBy: "circuit-breaker" });
    renderApp({ page: "ticket", backend, token: TRADER_TOKEN });

    const banner = await screen.findByTestId("halt-banner");
    expect(banner.textContent).toContain("Trading halted for account DU222, daily loss limit reached (circuit-breaker)");
    // A trader is told, not offered the admin's button.
    expect(within(banner).queryByTestId("resume-trading")).toBeNull();
    expect(screen.getByTestId("trading-state").textContent).toBe("HALTED DU222");

    expect(screen.getByTestId("ticket-review")).toHaveProperty("disabled", false);
    await user.selectOptions(screen.getByTestId("ticket-account"), "DU222");
    expect(screen.getByTestId("ticket-review")).toHaveProperty("disabled", true);
    await user.selectOptions(screen.getByTestId("ticket-account"), "DU111");
    expect(screen.getByTestId("ticket-review")).toHaveProperty("disabled", false);
  });

  it("reads an account's own state again at once when an admin resumes it (several accounts)", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.setGatewayStatus({ managedAccounts: ["DU111", "DU222"] });
    backend.setTradingState("DU222", { halted: true, cause: HaltCause.MANUAL, haltedBy: "carol", reason: "review" });
    renderApp({ page: "dashboard", backend, token: ADMIN_TOKEN });

    const banner = await screen.findByTestId("halt-banner");
    expect(banner.textContent).toContain("Trading halted for account DU222");
    const readsBefore = backend.tradingStateReads.length;
    await user.click(within(banner).getByTestId("resume-trading"));
    await user.type(screen.getByTestId("resume-reason"), "reviewed");
    await user.click(screen.getByTestId("resume-submit"));

    // Each account's state is polled every 5 s; the resume reads it again without waiting.
    await waitFor(
      () => {
        expect(screen.queryByTestId("halt-banner")).toBeNull();
      },
      { timeout: TRADING_STATE_POLL_MS / 2 },
    );
    expect(backend.resumeRequests.map((request) => request.account)).toEqual(["DU222"]);
    expect(backend.tradingStateReads.slice(readsBefore)).toEqual(["DU111", "DU222"]);
  });

  it("disables the ticket while the gateway reconciles, and while TRADING_MODE blocks orders", async () => {
    const backend = new FakeBackend();
    backend.setGatewayStatus({ state: ConnectionState.SYNCING });
    renderApp({ page: "ticket", backend });
    expect((await screen.findByTestId("ticket-gateway-warning")).textContent).toContain(
      "Gateway SYNCING: reconciling orders, fills and positions with IB",
    );
    expect(screen.getByTestId("ticket-review")).toHaveProperty("disabled", true);
    expect(screen.getByTestId("trading-state").textContent).toBe("No trading");

    backend.setGatewayStatus({ state: ConnectionState.READY, tradingBlockedReason: "TRADING_MODE is paper but U1 is live" });
    await waitFor(() => {
      expect(screen.getByTestId("trading-state").textContent).toBe("BLOCKED");
    });
    expect(screen.getByTestId("ticket-review")).toHaveProperty("disabled", true);
    expect(screen.getByTestId("status-banner").textContent).toContain("Orders are refused: TRADING_MODE is paper but U1 is live");
  });
});

describe("onboarding", () => {
  it("explains where to find a token when there is none, and connects with the pasted one", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    backend.requiredToken = ADMIN_TOKEN;
    renderApp({ page: "dashboard", backend, token: "" });

    const onboarding = screen.getByTestId("onboarding");
    expect(onboarding.textContent).toContain("ibkr-grpc demo");
    expect(onboarding.textContent).toContain("ibkr-grpc token --role trader");
    // No red developer lines: the banner is not shown while onboarding.
    await waitFor(() => {
      expect(backend.authorizationHeaders.length).toBeGreaterThan(0);
    });
    expect(screen.queryByTestId("status-banner")).toBeNull();

    await user.type(screen.getByTestId("onboarding-token-input"), ADMIN_TOKEN);
    await user.click(screen.getByTestId("onboarding-token-save"));
    await waitFor(() => {
      expect(screen.queryByTestId("onboarding")).toBeNull();
    });
    expect(screen.getByRole("main", { name: "Dashboard" })).toBeTruthy();
    await waitFor(() => {
      expect(screen.getByTestId("gateway-state").textContent).toBe("READY");
    });
  });

  it("says when the server refuses the token in use", async () => {
    const backend = new FakeBackend();
    backend.requiredToken = ADMIN_TOKEN;
    renderApp({ page: "dashboard", backend, token: TRADER_TOKEN });
    expect((await screen.findByTestId("onboarding-refusal")).textContent).toContain("missing or invalid bearer token");
    expect(screen.getByTestId("onboarding").textContent).toContain("The server refused this API token");
  });

  it("is skipped when the server answers without a token (authentication disabled)", async () => {
    renderApp({ page: "positions", token: "" });
    await waitFor(() => {
      expect(screen.getByRole("main", { name: "Positions" })).toBeTruthy();
    });
  });
});
