// The app shell: header with gateway state, the trading verdict (halted, blocked), page tabs and
// token control, the status banner, the current page (or the onboarding screen while there is no
// usable token), and the keyboard: 1-6 switch pages, N/B/S open the order ticket.
import { Code } from "@connectrpc/connect";
import type { Contract } from "@ibkr-grpc/client";
import { ConnectionState, ConnectionStateSchema, Side, TradingMode, TradingModeSchema } from "@ibkr-grpc/client";
import { useCallback, useEffect, useMemo, useState } from "react";
import { enumName } from "../lib/enums";
import { DashboardPage } from "../pages/DashboardPage";
import { OptionChainPage } from "../pages/OptionChainPage";
import { OrderTicketPage } from "../pages/OrderTicketPage";
import { OrdersPage } from "../pages/OrdersPage";
import { PositionsPage } from "../pages/PositionsPage";
import { WatchlistPage } from "../pages/WatchlistPage";
import type { ApiError } from "../api/apiError";
import { useToken } from "../api/ApiProvider";
import { STREAM_NAMES, useGatewayStatus, useStreamStatuses, useTradingBlockers } from "../state/LiveData";
import { EVERY_ACCOUNT, tradingVerdict } from "../trading/availability";
import { TradingStateDialog, useIsAdmin } from "../trading/TradingStateDialogs";
import { Onboarding } from "./Onboarding";
import type { Navigation, PageId, TicketRequest } from "./navigation";
import { DEFAULT_TICKET_REQUEST, NavigationContext, PAGES, isTypingTarget, pageFromHash } from "./navigation";
import { StatusBanner } from "./StatusBanner";
import { TokenControl } from "./TokenControl";

function GatewayPill() {
  const status = useGatewayStatus();
  const streams = useStreamStatuses();
  const blockers = useTradingBlockers();
  // While the status stream is down, the last state we saw may no longer be true.
  const stale = streams.get(STREAM_NAMES.gateway)?.health.phase !== "live";
  const known = status === undefined ? "UNKNOWN" : enumName(ConnectionStateSchema, status.state);
  const state = stale && status !== undefined ? `${known} (stale)` : known;
  const ready = !stale && status?.state === ConnectionState.READY;
  const mode = status === undefined ? "" : enumName(TradingModeSchema, status.tradingMode);
  // READY says the session is up; whether orders go through is the trading pill's to say, so a
  // halted or blocked session is never green.
  const sessionClass = !ready ? "pill pill-bad" : blockers.length > 0 ? "pill" : "pill pill-ok";
  const verdict = tradingVerdict(blockers);
  return (
    <div className="gateway-pill">
      <span className={sessionClass} title="IB Gateway session" data-testid="gateway-state">
        {state}
      </span>
      {status !== undefined && (
        <span
          className={`pill pill-${verdict.tone}${verdict.tone === "bad" ? " pill-alarm" : ""}`}
          title={blockers.map((blocker) => blocker.text).join("\n")}
          data-testid="trading-state"
        >
          {verdict.label}
        </span>
      )}
      {mode !== "" && mode !== "UNSPECIFIED" && (
        <span
          className={status?.tradingMode === TradingMode.LIVE ? "pill pill-live" : "pill"}
          data-testid="trading-mode"
        >
          {mode}
        </span>
      )}
    </div>
  );
}

/** The admin's kill switch in the header: halts every account (or resumes, while halted). */
function HaltControl() {
  const admin = useIsAdmin();
  const status = useGatewayStatus();
  const halted = useTradingBlockers().some((blocker) => blocker.kind === "halt" && blocker.account === EVERY_ACCOUNT);
  const [open, setOpen] = useState(false);
  if (!admin || status === undefined) {
    return null;
  }
  return (
    <>
      <button
        type="button"
        className={halted ? "small" : "small danger"}
        data-testid={halted ? "header-resume" : "header-halt"}
        title={halted ? "Resume trading for every account" : "Halt trading for every account (kill switch)"}
        onClick={() => {
          setOpen(true);
        }}
      >
        {halted ? "Resume…" : "Halt…"}
      </button>
      {open && (
        <TradingStateDialog
          action={halted ? "resume" : "halt"}
          account={EVERY_ACCOUNT}
          onClose={() => {
            setOpen(false);
          }}
        />
      )}
    </>
  );
}

/**
 * True while the app has no usable token: none is set and the server has not answered without
 * one (auth disabled), or the server refused the one set.
 */
function useNeedsToken(): { readonly needed: boolean; readonly refusal: ApiError | undefined } {
  const token = useToken();
  const status = useGatewayStatus();
  const health = useStreamStatuses().get(STREAM_NAMES.gateway)?.health;
  const refusal =
    health !== undefined && health.phase !== "live" && health.lastError?.code === Code.Unauthenticated
      ? health.lastError
      : undefined;
  return { needed: refusal !== undefined || (token === "" && status === undefined), refusal };
}

function CurrentPage({ page, ticketNonce }: { readonly page: PageId; readonly ticketNonce: number }) {
  switch (page) {
    case "dashboard":
      return <DashboardPage />;
    case "ticket":
      // A new ticket request (hotkey, "Trade" on the watchlist) starts a fresh ticket.
      return <OrderTicketPage key={ticketNonce} />;
    case "orders":
      return <OrdersPage />;
    case "positions":
      return <PositionsPage />;
    case "watchlist":
      return <WatchlistPage />;
    case "options":
      return <OptionChainPage />;
  }
}

export interface AppProps {
  readonly initialPage?: PageId;
}

export function App({ initialPage }: AppProps) {
  const [page, setPage] = useState<PageId>(
    () => initialPage ?? pageFromHash(window.location.hash) ?? "dashboard",
  );
  const [ticketRequest, setTicketRequest] = useState<TicketRequest>(DEFAULT_TICKET_REQUEST);
  const token = useToken();
  const onboarding = useNeedsToken();

  const goTo = useCallback((next: PageId) => {
    setPage(next);
    if (window.location.hash !== `#/${next}`) {
      window.history.replaceState(null, "", `#/${next}`);
    }
  }, []);

  const openTicket = useCallback(
    (contract?: Contract, side: Side = Side.BUY) => {
      setTicketRequest((previous) => ({ nonce: previous.nonce + 1, contract, side }));
      goTo("ticket");
    },
    [goTo],
  );

  useEffect(() => {
    const onHashChange = () => {
      const named = pageFromHash(window.location.hash);
      if (named !== undefined) {
        setPage(named);
      }
    };
    window.addEventListener("hashchange", onHashChange);
    return () => {
      window.removeEventListener("hashchange", onHashChange);
    };
  }, []);

  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || isTypingTarget(event.target)) {
        return;
      }
      if (document.querySelector('[aria-modal="true"]') !== null) {
        return;
      }
      const target = PAGES.find((candidate) => candidate.hotkey === event.key);
      if (target !== undefined) {
        event.preventDefault();
        goTo(target.id);
        return;
      }
      const key = event.key.toLowerCase();
      if (key === "n" || key === "b" || key === "s") {
        event.preventDefault();
        openTicket(undefined, key === "s" ? Side.SELL : Side.BUY);
      }
    };
    window.addEventListener("keydown", onKeyDown);
    return () => {
      window.removeEventListener("keydown", onKeyDown);
    };
  }, [goTo, openTicket]);

  const navigation = useMemo<Navigation>(
    () => ({ page, goTo, openTicket, ticketRequest }),
    [page, goTo, openTicket, ticketRequest],
  );

  return (
    <NavigationContext.Provider value={navigation}>
      <div className="app">
        <header className="topbar">
          <span className="brand">IBKR gRPC</span>
          <GatewayPill />
          <HaltControl />
          <nav className="tabs" aria-label="Pages">
            {PAGES.map((candidate) => (
              <button
                key={candidate.id}
                type="button"
                className="tab"
                aria-current={candidate.id === page ? "page" : undefined}
                aria-keyshortcuts={candidate.hotkey}
                data-testid={`nav-${candidate.id}`}
                onClick={() => {
                  goTo(candidate.id);
                }}
              >
                <span className="tab-key">{candidate.hotkey}</span> {candidate.title}
              </button>
            ))}
          </nav>
          <TokenControl />
        </header>
        {onboarding.needed ? (
          <main className="page" aria-label="Connect">
            <Onboarding refusal={onboarding.refusal} hasToken={token !== ""} />
          </main>
        ) : (
          <>
            <StatusBanner />
            <main className="page" aria-label={PAGES.find((candidate) => candidate.id === page)?.title}>
              <CurrentPage page={page} ticketNonce={ticketRequest.nonce} />
            </main>
          </>
        )}
        <footer className="hotkeys">
          <kbd>1</kbd>–<kbd>6</kbd> pages · <kbd>N</kbd> new order · <kbd>B</kbd> buy · <kbd>S</kbd> sell ·{" "}
          <kbd>Esc</kbd> close dialog
        </footer>
      </div>
    </NavigationContext.Provider>
  );
}
