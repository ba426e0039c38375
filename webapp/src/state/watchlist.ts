// The watchlist: the contracts the user follows, kept in localStorage across sessions.
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import type { Contract } from "@ibkr-grpc/client";
import { ContractSchema, SecurityType } from "@ibkr-grpc/client";
import { contractKey } from "./contracts";
import { Store } from "./store";

const STORAGE_KEY = "ibkr-grpc.watchlist";

export const DEFAULT_WATCHLIST: readonly Contract[] = ["AAPL", "MSFT", "SPY"].map((symbol) =>
  create(ContractSchema, { symbol, securityType: SecurityType.STOCK, exchange: "SMART", currency: "USD" }),
);

function load(storage: Storage | undefined): readonly Contract[] {
  const saved = storage?.getItem(STORAGE_KEY);
  if (saved === null || saved === undefined) {
    return DEFAULT_WATCHLIST;
  }
  try {
    const entries: unknown = JSON.parse(saved);
    if (!Array.isArray(entries)) {
      return DEFAULT_WATCHLIST;
    }
    return entries
      .filter((entry): entry is string => typeof entry === "string")
      .map((entry) => fromJsonString(ContractSchema, entry, { ignoreUnknownFields: true }));
  } catch {
    return DEFAULT_WATCHLIST;
  }
}

export class WatchlistStore extends Store<readonly Contract[]> {
  private readonly storage: Storage | undefined;

  constructor(storage: Storage | undefined) {
    super(load(storage));
    this.storage = storage;
  }

  add(contract: Contract): void {
    this.change((contracts) =>
      contracts.some((existing) => contractKey(existing) === contractKey(contract))
        ? contracts
        : [...contracts, contract],
    );
  }

  remove(key: string): void {
    this.change((contracts) => contracts.filter((contract) => contractKey(contract) !== key));
  }

  private change(change: (contracts: readonly Contract[]) => readonly Contract[]): void {
    this.update(change);
    this.storage?.setItem(
      STORAGE_KEY,
      JSON.stringify(this.getSnapshot().map((contract) => toJsonString(ContractSchema, contract))),
    );
  }
}
