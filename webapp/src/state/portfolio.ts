// The portfolio from StreamPortfolio: account summaries, positions and PnL. A (re)opened stream
// first sends a full snapshot; it is collected aside and swapped in at SNAPSHOT_COMPLETE, so a
// reconnect never shows a half-empty portfolio.
import type { AccountSummary, PnL, Position, StreamPortfolioResponse } from "@ibkr-grpc/client";
import { StreamMarkerType } from "@ibkr-grpc/client";
import { parseDecimal, sign } from "../lib/decimal";
import { contractKey } from "./contracts";

export interface PortfolioView {
  readonly summaries: ReadonlyMap<string, AccountSummary>;
  readonly positions: ReadonlyMap<string, Position>;
  readonly pnl: ReadonlyMap<string, PnL>;
}

export interface PortfolioState {
  readonly current: PortfolioView;
  /** The snapshot of the current stream attempt until SNAPSHOT_COMPLETE; undefined after. */
  readonly pending: PortfolioView | undefined;
  readonly snapshotComplete: boolean;
}

const EMPTY_VIEW: PortfolioView = { summaries: new Map(), positions: new Map(), pnl: new Map() };

export const EMPTY_PORTFOLIO: PortfolioState = {
  current: EMPTY_VIEW,
  pending: EMPTY_VIEW,
  snapshotComplete: false,
};

export function positionKey(position: Position): string {
  return `${position.account}|${position.contract === undefined ? "" : contractKey(position.contract)}`;
}

/** Called when a new stream attempt opens: the next messages are a fresh snapshot. */
export function startSnapshot(state: PortfolioState): PortfolioState {
  return { ...state, pending: EMPTY_VIEW };
}

function applyToView(view: PortfolioView, message: StreamPortfolioResponse): PortfolioView {
  const { payload } = message;
  switch (payload.case) {
    case "accountSummary": {
      const summaries = new Map(view.summaries);
      summaries.set(payload.value.account, payload.value);
      return { ...view, summaries };
    }
    case "position": {
      const positions = new Map(view.positions);
      const quantity = parseDecimal(payload.value.quantity);
      if (quantity !== undefined && sign(quantity) === 0) {
        positions.delete(positionKey(payload.value));
      } else {
        positions.set(positionKey(payload.value), payload.value);
      }
      return { ...view, positions };
    }
    case "pnl": {
      const pnl = new Map(view.pnl);
      pnl.set(payload.value.account, payload.value);
      return { ...view, pnl };
    }
    default:
      return view;
  }
}

export function applyPortfolioMessage(state: PortfolioState, message: StreamPortfolioResponse): PortfolioState {
  const { payload } = message;
  if (payload.case === "marker") {
    if (payload.value.type === StreamMarkerType.SNAPSHOT_COMPLETE && state.pending !== undefined) {
      return { current: state.pending, pending: undefined, snapshotComplete: true };
    }
    return state;
  }
  if (payload.case === "heartbeat" || payload.case === undefined) {
    return state;
  }
  if (state.pending !== undefined) {
    return { ...state, pending: applyToView(state.pending, message) };
  }
  return { ...state, current: applyToView(state.current, message) };
}
