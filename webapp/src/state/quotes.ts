// Live quotes of the watchlist, keyed by the watchlist entry's contract key, and the contracts
// the server could not subscribe.
import type { Contract, Quote, StreamQuotesResponse } from "@ibkr-grpc/client";
import { ErrorReasonSchema } from "@ibkr-grpc/client";
import { enumName } from "../lib/enums";
import { contractKey, sameContract } from "./contracts";

export interface QuotesState {
  readonly quotes: ReadonlyMap<string, Quote>;
  /** Contract key -> "REASON: message". */
  readonly subscriptionErrors: ReadonlyMap<string, string>;
}

export const EMPTY_QUOTES: QuotesState = { quotes: new Map(), subscriptionErrors: new Map() };

function keyFor(watched: readonly Contract[], received: Contract | undefined): string | undefined {
  if (received === undefined) {
    return undefined;
  }
  const match = watched.find((contract) => sameContract(contract, received));
  return match === undefined ? undefined : contractKey(match);
}

export function applyQuoteMessage(
  state: QuotesState,
  watched: readonly Contract[],
  message: StreamQuotesResponse,
): QuotesState {
  const { payload } = message;
  if (payload.case === "quote") {
    const key = keyFor(watched, payload.value.contract);
    if (key === undefined) {
      return state;
    }
    const quotes = new Map(state.quotes);
    quotes.set(key, payload.value);
    const subscriptionErrors = new Map(state.subscriptionErrors);
    subscriptionErrors.delete(key);
    return { quotes, subscriptionErrors };
  }
  if (payload.case === "subscriptionError") {
    const key = keyFor(watched, payload.value.contract);
    if (key === undefined) {
      return state;
    }
    const subscriptionErrors = new Map(state.subscriptionErrors);
    subscriptionErrors.set(key, `${enumName(ErrorReasonSchema, payload.value.reason)}: ${payload.value.message}`);
    return { ...state, subscriptionErrors };
  }
  return state;
}

/** Drops what belongs to contracts no longer watched. */
export function retainWatched(state: QuotesState, watched: readonly Contract[]): QuotesState {
  const keys = new Set(watched.map(contractKey));
  const quotes = new Map([...state.quotes].filter(([key]) => keys.has(key)));
  const subscriptionErrors = new Map([...state.subscriptionErrors].filter(([key]) => keys.has(key)));
  return { quotes, subscriptionErrors };
}
