// The state of one StreamOptionChain: the window the server follows (the underlying and, per
// strike, the call and the put), the newest quote (with greeks) of each, and the contracts whose
// line failed; and the rows the chain table shows, lowest strike first.
import type { Contract, OptionChainWindow, Quote, StreamOptionChainResponse } from "@ibkr-grpc/client";
import { ErrorReasonSchema } from "@ibkr-grpc/client";
import { enumName } from "../lib/enums";
import { compareDecimalStrings } from "../lib/decimal";
import { contractKey } from "../state/contracts";

export interface ChainState {
  readonly window: OptionChainWindow | undefined;
  /** Contract key (its con_id) -> newest quote. */
  readonly quotes: ReadonlyMap<string, Quote>;
  /** Contract key -> "REASON: message". */
  readonly subscriptionErrors: ReadonlyMap<string, string>;
}

export const EMPTY_CHAIN: ChainState = { window: undefined, quotes: new Map(), subscriptionErrors: new Map() };

function withQuotes(state: ChainState, quotes: readonly Quote[]): ChainState {
  const known = quotes.filter((quote) => quote.contract !== undefined);
  if (known.length === 0) {
    return state;
  }
  const next = new Map(state.quotes);
  const errors = new Map(state.subscriptionErrors);
  for (const quote of known) {
    if (quote.contract !== undefined) {
      next.set(contractKey(quote.contract), quote);
      errors.delete(contractKey(quote.contract));
    }
  }
  return { ...state, quotes: next, subscriptionErrors: errors };
}

/** The state after one message; a window starts afresh (a new stream re-centres it). */
export function applyChainMessage(state: ChainState, message: StreamOptionChainResponse): ChainState {
  const { payload } = message;
  switch (payload.case) {
    case "window":
      return { window: payload.value, quotes: new Map(), subscriptionErrors: new Map() };
    case "quote":
      return withQuotes(state, [payload.value]);
    case "quotes":
      return withQuotes(state, payload.value.quotes);
    case "subscriptionError": {
      const contract = payload.value.contract;
      if (contract === undefined) {
        return state;
      }
      const errors = new Map(state.subscriptionErrors);
      errors.set(contractKey(contract), `${enumName(ErrorReasonSchema, payload.value.reason)}: ${payload.value.message}`);
      return { ...state, subscriptionErrors: errors };
    }
    default:
      return state;
  }
}

export interface ChainSide {
  readonly contract: Contract;
  readonly quote: Quote | undefined;
  /** Why it has no quote (its line failed); "" otherwise. */
  readonly problem: string;
}

export interface ChainRow {
  readonly strike: string;
  readonly atTheMoney: boolean;
  readonly call: ChainSide | undefined;
  readonly put: ChainSide | undefined;
}

function side(state: ChainState, contract: Contract | undefined): ChainSide | undefined {
  if (contract === undefined) {
    return undefined;
  }
  const key = contractKey(contract);
  return { contract, quote: state.quotes.get(key), problem: state.subscriptionErrors.get(key) ?? "" };
}

/** One row per strike of the window, lowest first, the at-the-money strike marked. */
export function chainRows(state: ChainState): ChainRow[] {
  const window = state.window;
  if (window === undefined) {
    return [];
  }
  const atTheMoney = window.atTheMoneyStrike;
  return [...window.strikes]
    .sort((left, right) => compareDecimalStrings(left.strike, right.strike))
    .map((strike) => ({
      strike: strike.strike,
      atTheMoney: atTheMoney !== "" && compareDecimalStrings(strike.strike, atTheMoney) === 0,
      call: side(state, strike.call),
      put: side(state, strike.put),
    }));
}

/** The underlying's newest quote on the chain stream. */
export function underlyingQuote(state: ChainState): Quote | undefined {
  const underlying = state.window?.underlying;
  return underlying === undefined ? undefined : state.quotes.get(contractKey(underlying));
}

/** IV as a percentage with one decimal ("0.2534" -> "25.3%"), "" when unknown. */
export function formatVolatility(text: string): string {
  const value = Number.parseFloat(text);
  return text === "" || Number.isNaN(value) ? "" : `${(value * 100).toFixed(1)}%`;
}

/** Delta to two decimals ("0.51234" -> "0.51"), "" when unknown. */
export function formatDelta(text: string): string {
  const value = Number.parseFloat(text);
  return text === "" || Number.isNaN(value) ? "" : value.toFixed(2);
}
