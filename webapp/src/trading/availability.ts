// Whether orders can be sent now, and why not: the gateway session, the server's TRADING_MODE
// check and the trading halts (every account, or one). One verdict for the header, the banner,
// the ticket and the close-position button, so they never disagree.
import type { GatewayStatus, TradingState } from "@ibkr-grpc/client";
import { ConnectionState, ConnectionStateSchema, HaltCause } from "@ibkr-grpc/client";
import { enumName } from "../lib/enums";
import { formatDateTime } from "../lib/time";

/** The key of the halt of every account in the trading-state map. */
export const EVERY_ACCOUNT = "";

/** Requested account ("" for every account) -> the state the server reports for it. */
export type TradingStates = ReadonlyMap<string, TradingState>;

export type BlockerKind = "halt" | "gateway" | "mode" | "unknown";

export interface Blocker {
  readonly kind: BlockerKind;
  /** The account a halt is limited to; "" when it applies to every account. */
  readonly account: string;
  /** One line for the trader: what is wrong and what it means for orders. */
  readonly text: string;
  /** The halt itself, for a halt (its reason, who, since when). */
  readonly halt?: TradingState;
}

export interface AvailabilityInput {
  readonly gateway: GatewayStatus | undefined;
  /** False while the gateway status stream is down: the last status may be stale. */
  readonly gatewayLive: boolean;
  readonly tradingStates: TradingStates;
}

const CAUSES: Record<HaltCause, string> = {
  [HaltCause.UNSPECIFIED]: "",
  [HaltCause.MANUAL]: "halted by an admin",
  [HaltCause.DAILY_LOSS]: "daily loss limit reached",
  [HaltCause.REJECTIONS]: "too many rejected orders",
  [HaltCause.GATEWAY_FLAPPING]: "IB Gateway disconnected too often",
};

/** "halted by an admin (alice): end of day, since 12/05/2025 14:03:11" */
export function describeHalt(state: TradingState): string {
  const cause = (CAUSES[state.cause] as string | undefined) ?? "";
  const what = cause === "" ? "halted" : cause;
  const who = state.haltedBy === "" ? "" : ` (${state.haltedBy})`;
  const reason = state.reason === "" ? "" : `: ${state.reason}`;
  const since = state.since === undefined ? "" : `, since ${formatDateTime(state.since)}`;
  return `${what}${who}${reason}${since}`;
}

function haltBlockers(states: TradingStates): Blocker[] {
  // A state without an account is the halt of every account, whichever stream reported it (an
  // account's stream reports the halt of every account as such).
  const everyAccount = [...states.values()].find((state) => state.halted && state.account === EVERY_ACCOUNT);
  if (everyAccount !== undefined) {
    return [
      {
        kind: "halt",
        account: EVERY_ACCOUNT,
        text: `Trading halted for every account, ${describeHalt(everyAccount)}. New orders and modifications are refused; cancels still work.`,
        halt: everyAccount,
      },
    ];
  }
  return [...states]
    .filter(([account, state]) => account !== EVERY_ACCOUNT && state.halted)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([account, state]) => ({
      kind: "halt" as const,
      account,
      text: `Trading halted for account ${account}, ${describeHalt(state)}. Its new orders and modifications are refused; cancels still work.`,
      halt: state,
    }));
}

/** Everything that stops orders now, the most serious first. */
export function tradingBlockers({ gateway, gatewayLive, tradingStates }: AvailabilityInput): Blocker[] {
  const blockers = haltBlockers(tradingStates);
  if (gateway === undefined) {
    return blockers;
  }
  if (gateway.state !== ConnectionState.READY) {
    const what =
      gateway.state === ConnectionState.SYNCING
        ? "reconciling orders, fills and positions with IB"
        : gateway.state === ConnectionState.CONNECTING
          ? "connecting to IB Gateway"
          : "disconnected from IB Gateway";
    const attempts = gateway.reconnectAttempts > 0 ? ` (reconnect attempt ${gateway.reconnectAttempts})` : "";
    const detail = gateway.lastError === "" ? "" : ` Last error: ${gateway.lastError}`;
    blockers.push({
      kind: "gateway",
      account: EVERY_ACCOUNT,
      text: `Gateway ${enumName(ConnectionStateSchema, gateway.state)}${attempts}: ${what}; orders are not accepted until it is READY.${detail}`,
    });
  } else if (gateway.tradingBlockedReason !== "") {
    blockers.push({
      kind: "mode",
      account: EVERY_ACCOUNT,
      text: `Orders are refused: ${gateway.tradingBlockedReason}`,
    });
  }
  if (!gatewayLive && blockers.length === 0) {
    blockers.push({
      kind: "unknown",
      account: EVERY_ACCOUNT,
      text: "The gateway status is not being received: the session may have changed since.",
    });
  }
  return blockers;
}

/**
 * The blockers that stop an order for `account` ("" when the ticket leaves it to the server's
 * default, which may be any account: then an account's halt counts only if it is the only one
 * managed). A stale status only warns: the server still decides.
 */
export function blockersForAccount(blockers: readonly Blocker[], account: string, managedAccounts: readonly string[]): Blocker[] {
  const effective = account !== "" ? account : managedAccounts.length === 1 ? (managedAccounts[0] ?? "") : "";
  return blockers.filter(
    (blocker) =>
      blocker.kind !== "unknown" && (blocker.account === EVERY_ACCOUNT || blocker.account === effective),
  );
}

/** The header's one-word verdict. */
export function tradingVerdict(blockers: readonly Blocker[]): { readonly label: string; readonly tone: "ok" | "bad" | "warn" } {
  const first = blockers[0];
  if (first === undefined) {
    return { label: "Trading open", tone: "ok" };
  }
  switch (first.kind) {
    case "halt":
      return { label: first.account === EVERY_ACCOUNT ? "HALTED" : `HALTED ${first.account}`, tone: "bad" };
    case "gateway":
      return { label: "No trading", tone: "bad" };
    case "mode":
      return { label: "BLOCKED", tone: "bad" };
    case "unknown":
      return { label: "Status unknown", tone: "warn" };
  }
}
