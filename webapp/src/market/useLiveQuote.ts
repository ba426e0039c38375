// The live quote of one contract for the ticket and the chart, from the app's one quote stream:
// the contract joins it (unless watched already) once it has stopped changing for a moment, so
// typing a symbol does not subscribe every prefix.
import type { Contract, Quote } from "@ibkr-grpc/client";
import { useEffect, useState } from "react";
import { contractKey } from "../state/contracts";
import { useQuoteInterest, useQuoteKey, useQuotes } from "../state/LiveData";

/** How long the contract must stay the same before it is added to the quote stream. */
export const QUOTE_SETTLE_MS = 300;

export interface LiveQuote {
  readonly quote: Quote | undefined;
  /** Why there is no quote (the server could not subscribe it); "" otherwise. */
  readonly problem: string;
}

/** `contract` once it has not changed for `delayMs` (compared by contract key). */
function useSettledContract(contract: Contract | undefined, delayMs: number): Contract | undefined {
  const key = contract === undefined ? "" : contractKey(contract);
  const [settled, setSettled] = useState<{ key: string; contract: Contract | undefined }>({ key: "", contract: undefined });
  useEffect(() => {
    const timer = setTimeout(() => {
      setSettled({ key, contract });
    }, delayMs);
    return () => {
      clearTimeout(timer);
    };
    // The key stands for the contract: a new object with the same key is the same contract.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, delayMs]);
  return settled.key === key ? settled.contract : undefined;
}

export function useLiveQuote(contract: Contract | undefined): LiveQuote {
  useQuoteInterest(useSettledContract(contract, QUOTE_SETTLE_MS));
  // A watched contract is quoted already: its quote shows at once.
  const key = useQuoteKey(contract);
  const { quotes, subscriptionErrors } = useQuotes();
  if (key === "") {
    return { quote: undefined, problem: "" };
  }
  return { quote: quotes.get(key), problem: subscriptionErrors.get(key) ?? "" };
}
