// The live state of the app, shared by every page: gateway status, portfolio, order book and
// watchlist quotes and the trading state (halts), each fed by one resilient stream for as long as
// the app is open (switching pages never reopens a stream). The streams restart when the API
// token changes. The unary reads that complete the streams (the order book's first lists, the
// polled trading states) go through connect-query.
import { createConnectQueryKey, createQueryOptions, useQuery, useTransport } from "@connectrpc/connect-query";
import { useQueries, useQueryClient } from "@tanstack/react-query";
import type {
  Contract,
  GatewayStatus,
  Order,
  StreamGatewayStatusResponse,
  StreamOrderEventsResponse,
  StreamPortfolioResponse,
  StreamQuotesResponse,
  StreamTradingStateResponse,
  TradingState,
} from "@ibkr-grpc/client";
import {
  GatewayService,
  MarketDataService,
  OrderService,
  PortfolioService,
  RiskService,
  StreamMarkerType,
} from "@ibkr-grpc/client";
import type { ReactNode } from "react";
import { createContext, useContext, useEffect, useRef, useState } from "react";
import { describeError, errorTitle } from "../api/apiError";
import { useClient, useToken } from "../api/ApiProvider";
import { useAppConfig } from "../app/config";
import { StreamHealthRegistry } from "../streams/healthRegistry";
import type { Blocker, TradingStates } from "../trading/availability";
import { EVERY_ACCOUNT, tradingBlockers } from "../trading/availability";
import { applyMarker, heartbeatDuration, useResilientStream } from "../streams/useResilientStream";
import { contractKey, sameContract } from "./contracts";
import type { OrderBookState } from "./orderBook";
import { EMPTY_ORDER_BOOK, applyOrderEvent, mergeListedFills, mergeListedOrders } from "./orderBook";
import type { PortfolioState } from "./portfolio";
import { EMPTY_PORTFOLIO, applyPortfolioMessage, startSnapshot } from "./portfolio";
import type { QuotesState } from "./quotes";
import { EMPTY_QUOTES, applyQuoteMessage, retainWatched } from "./quotes";
import { Store, useStore } from "./store";
import { WatchlistStore } from "./watchlist";

export const STREAM_NAMES = {
  gateway: "Gateway status",
  portfolio: "Portfolio",
  orders: "Order events",
  quotes: "Quotes",
  tradingState: "Trading state",
} as const;

/** How many of the newest order events the activity log replays when it opens. */
export const ACTIVITY_REPLAY_EVENTS = 100;

/** How many orders and fills the book loads when it starts without a sequence to resume from. */
const SNAPSHOT_PAGE_SIZE = 200;

export interface GatewayState {
  readonly status: GatewayStatus | undefined;
}

export interface LiveStores {
  readonly registry: StreamHealthRegistry;
  readonly gateway: Store<GatewayState>;
  readonly portfolio: Store<PortfolioState>;
  readonly orderBook: Store<OrderBookState>;
  readonly quotes: Store<QuotesState>;
  readonly tradingStates: Store<TradingStates>;
  readonly watchlist: WatchlistStore;
  /** Contracts quoted for the ticket or a chart besides the watchlist, with how many ask. */
  readonly quoteInterest: Store<ReadonlyMap<string, QuoteInterest>>;
  /** Streams of a page's own (option chain, depth ladder) and whether their connection is free. */
  readonly pageStreams: Store<PageStreamSlots>;
}

export interface PageStreamSlots {
  /** How many mounted components want a stream of their own. */
  readonly wanted: number;
  /** True once the trading state is polled instead of streamed, freeing a connection. */
  readonly lent: boolean;
}

export interface QuoteInterest {
  readonly contract: Contract;
  readonly holders: number;
}

export function createLiveStores(storage: Storage | undefined): LiveStores {
  return {
    registry: new StreamHealthRegistry(),
    gateway: new Store<GatewayState>({ status: undefined }),
    portfolio: new Store(EMPTY_PORTFOLIO),
    orderBook: new Store(EMPTY_ORDER_BOOK),
    quotes: new Store(EMPTY_QUOTES),
    tradingStates: new Store<TradingStates>(new Map()),
    quoteInterest: new Store<ReadonlyMap<string, QuoteInterest>>(new Map()),
    pageStreams: new Store<PageStreamSlots>({ wanted: 0, lent: false }),
    watchlist: new WatchlistStore(storage),
  };
}

const LiveStoresContext = createContext<LiveStores | undefined>(undefined);

function useLiveStores(): LiveStores {
  const stores = useContext(LiveStoresContext);
  if (stores === undefined) {
    throw new Error("live data hooks need a LiveDataProvider above them");
  }
  return stores;
}

export interface LiveDataProviderProps {
  /** Where the watchlist persists; localStorage in the app. */
  readonly storage: Storage | undefined;
  readonly children: ReactNode;
}

export function LiveDataProvider({ storage, children }: LiveDataProviderProps) {
  const [stores] = useState(() => createLiveStores(storage));
  return (
    <LiveStoresContext.Provider value={stores}>
      <GatewayStream stores={stores} />
      <PortfolioStream stores={stores} />
      <OrderEventStream stores={stores} />
      <OrderBookSnapshot stores={stores} />
      <QuoteStream stores={stores} />
      <TradingStateStreams stores={stores} />
      {children}
    </LiveStoresContext.Provider>
  );
}

interface StreamProps {
  readonly stores: LiveStores;
}

function GatewayStream({ stores }: StreamProps) {
  const client = useClient(GatewayService);
  const config = useAppConfig();
  const token = useToken();
  useResilientStream<StreamGatewayStatusResponse>({
    name: STREAM_NAMES.gateway,
    registry: stores.registry,
    restartKey: token,
    open: (signal) =>
      client.streamGatewayStatus({ heartbeatInterval: heartbeatDuration(config.heartbeatIntervalMs) }, { signal }),
    onMessage: ({ payload }) => {
      if (payload.case === "status") {
        stores.gateway.update(() => ({ status: payload.value }));
      } else if (payload.case === "marker") {
        applyMarker(stores.registry, STREAM_NAMES.gateway, payload.value);
      }
    },
  });
  return null;
}

function PortfolioStream({ stores }: StreamProps) {
  const client = useClient(PortfolioService);
  const config = useAppConfig();
  const token = useToken();
  useResilientStream<StreamPortfolioResponse>({
    name: STREAM_NAMES.portfolio,
    registry: stores.registry,
    restartKey: token,
    open: (signal) => {
      stores.portfolio.update(startSnapshot);
      return client.streamPortfolio({ heartbeatInterval: heartbeatDuration(config.heartbeatIntervalMs) }, { signal });
    },
    onMessage: (message) => {
      if (message.payload.case === "marker") {
        applyMarker(stores.registry, STREAM_NAMES.portfolio, message.payload.value);
      }
      stores.portfolio.update((state) => applyPortfolioMessage(state, message));
    },
  });
  return null;
}

// The lists are read when the order stream starts with nothing to resume from (the first start,
// a reload), never on their own: the stream's open asks for them (invalidateOrderSnapshot).
const SNAPSHOT_QUERY_OPTIONS = { staleTime: Infinity } as const;
const SNAPSHOT_REQUEST = { pageSize: SNAPSHOT_PAGE_SIZE } as const;

/** Reads ListOrders and ListFills again; a read already running is the one awaited. */
function useInvalidateOrderSnapshot(): () => void {
  const queryClient = useQueryClient();
  return () => {
    const keys = [
      createConnectQueryKey({ schema: OrderService.method.listOrders, cardinality: "finite" }),
      createConnectQueryKey({ schema: OrderService.method.listFills, cardinality: "finite" }),
    ];
    for (const queryKey of keys) {
      void queryClient.invalidateQueries({ queryKey }, { cancelRefetch: false });
    }
  };
}

/** The current orders and fills, merged into the book under the events the stream applies. */
function OrderBookSnapshot({ stores }: StreamProps) {
  const orders = useQuery(OrderService.method.listOrders, SNAPSHOT_REQUEST, SNAPSHOT_QUERY_OPTIONS);
  const fills = useQuery(OrderService.method.listFills, SNAPSHOT_REQUEST, SNAPSHOT_QUERY_OPTIONS);
  useEffect(() => {
    if (orders.data !== undefined) {
      const listed = orders.data.orders;
      stores.orderBook.update((state) => mergeListedOrders(state, listed));
    }
  }, [stores, orders.data]);
  useEffect(() => {
    if (fills.data !== undefined) {
      const listed = fills.data.fills;
      stores.orderBook.update((state) => mergeListedFills(state, listed));
    }
  }, [stores, fills.data]);
  const failure = orders.error ?? fills.error;
  const snapshotError = failure === null ? "" : `${errorTitle(describeError(failure))}: ${failure.rawMessage}`;
  useEffect(() => {
    stores.orderBook.update((state) => (state.snapshotError === snapshotError ? state : { ...state, snapshotError }));
  }, [stores, snapshotError]);
  return null;
}

function OrderEventStream({ stores }: StreamProps) {
  const client = useClient(OrderService);
  const config = useAppConfig();
  const token = useToken();
  const invalidateOrderSnapshot = useInvalidateOrderSnapshot();

  useResilientStream<StreamOrderEventsResponse>({
    name: STREAM_NAMES.orders,
    registry: stores.registry,
    restartKey: token,
    open: (signal) => {
      // Resume after the last event applied: the server replays what we missed, with no gap.
      // Without one (first start, a reload), the newest events are replayed for the activity log
      // and the lists give the current book.
      const afterSequence = stores.orderBook.getSnapshot().lastSequence;
      stores.orderBook.update((state) => ({ ...state, replayComplete: false }));
      const heartbeatInterval = heartbeatDuration(config.heartbeatIntervalMs);
      const stream = client.streamOrderEvents(
        afterSequence === 0n
          ? { replayLast: ACTIVITY_REPLAY_EVENTS, heartbeatInterval }
          : { afterSequence, heartbeatInterval },
        { signal },
      );
      if (afterSequence === 0n) {
        invalidateOrderSnapshot();
      }
      return stream;
    },
    onMessage: ({ payload }) => {
      if (payload.case === "orderEvent") {
        stores.orderBook.update((state) => applyOrderEvent(state, payload.value));
      } else if (payload.case === "marker") {
        applyMarker(stores.registry, STREAM_NAMES.orders, payload.value);
        if (payload.value.type === StreamMarkerType.REPLAY_COMPLETE) {
          stores.orderBook.update((state) => ({ ...state, replayComplete: true }));
        }
      }
    },
  });
  return null;
}

/** The watchlist and every other contract someone wants quoted, each once. */
export function quotedContracts(watched: readonly Contract[], interest: ReadonlyMap<string, QuoteInterest>): Contract[] {
  const contracts = [...watched];
  for (const { contract } of interest.values()) {
    if (!contracts.some((existing) => sameContract(existing, contract))) {
      contracts.push(contract);
    }
  }
  return contracts;
}

/**
 * One StreamQuotes for the watchlist, the ticket's contract and the chart's: one connection,
 * whatever is on screen (a browser has six per server, and a stream holds one for good).
 */
function QuoteStream({ stores }: StreamProps) {
  const client = useClient(MarketDataService);
  const config = useAppConfig();
  const token = useToken();
  const watchedOnly = useStore(stores.watchlist);
  const interest = useStore(stores.quoteInterest);
  const watched = quotedContracts(watchedOnly, interest);
  // One stream for the current set: a different set is a different stream (restartKey).
  const setKey = watched.map(contractKey).join(",");
  useResilientStream<StreamQuotesResponse>({
    name: STREAM_NAMES.quotes,
    registry: stores.registry,
    restartKey: `${token}\n${setKey}`,
    enabled: watched.length > 0,
    open: (signal) => {
      stores.quotes.update((state) => retainWatched(state, watched));
      return client.streamQuotes(
        { contracts: [...watched], heartbeatInterval: heartbeatDuration(config.heartbeatIntervalMs) },
        { signal },
      );
    },
    onMessage: (message) => {
      if (message.payload.case === "marker") {
        applyMarker(stores.registry, STREAM_NAMES.quotes, message.payload.value);
      }
      stores.quotes.update((state) => applyQuoteMessage(state, watched, message));
    },
  });
  return null;
}

/** The key the quotes of `contract` are stored under, "" while it is not quoted. */
export function useQuoteKey(contract: Contract | undefined): string {
  const { quoteInterest, watchlist } = useLiveStores();
  const watched = useStore(watchlist);
  const interest = useStore(quoteInterest);
  if (contract === undefined || contract.symbol.trim() === "") {
    return "";
  }
  const quoted = quotedContracts(watched, interest).find((entry) => sameContract(entry, contract));
  return quoted === undefined ? "" : contractKey(quoted);
}

/**
 * Adds `contract` to the shared quote stream while the caller is mounted (a watched contract
 * changes nothing).
 */
export function useQuoteInterest(contract: Contract | undefined): void {
  const { quoteInterest } = useLiveStores();
  const key = contract === undefined || contract.symbol.trim() === "" ? "" : contractKey(contract);
  const latest = useRef(contract);
  useEffect(() => {
    latest.current = contract;
  });
  useEffect(() => {
    const wanted = latest.current;
    if (key === "" || wanted === undefined) {
      return undefined;
    }
    quoteInterest.update((entries) => {
      const next = new Map(entries);
      next.set(key, { contract: wanted, holders: (entries.get(key)?.holders ?? 0) + 1 });
      return next;
    });
    return () => {
      quoteInterest.update((entries) => {
        const next = new Map(entries);
        const holders = (entries.get(key)?.holders ?? 1) - 1;
        if (holders <= 0) {
          next.delete(key);
        } else {
          next.set(key, { contract: wanted, holders });
        }
        return next;
      });
    };
  }, [quoteInterest, key]);
}

/**
 * The trading state over one stream: of the only managed account (its state says when every
 * account is halted too), or of every account. With several accounts, each account's own halt
 * is read with GetTradingState every few seconds instead of a stream each: a browser holds at
 * most six HTTP/1.1 connections to the server, each stream keeps one, and order commands need one
 * free.
 */
function TradingStateStreams({ stores }: StreamProps) {
  const status = useStore(stores.gateway).status;
  // A page with a stream of its own (option chain, depth ladder) takes this stream's connection:
  // meanwhile the state is read every few seconds, as each account's is with several accounts.
  const lend = useStore(stores.pageStreams).wanted > 0;
  const accounts = status?.managedAccounts ?? [];
  const streamed = accounts.length === 1 ? (accounts[0] ?? EVERY_ACCOUNT) : EVERY_ACCOUNT;
  const polled = lend ? (accounts.length > 1 ? [EVERY_ACCOUNT, ...accounts] : [streamed]) : accounts.length > 1 ? accounts : [];
  useEffect(() => {
    // After the commit that unmounted the stream (its cleanup ran first): its connection is free.
    stores.pageStreams.update((slots) => (slots.lent === lend ? slots : { ...slots, lent: lend }));
  }, [stores, lend]);
  return (
    <>
      {!lend && <TradingStateStream key={streamed} stores={stores} account={streamed} />}
      {polled.length > 0 && <TradingStatePoller key={polled.join(",")} stores={stores} accounts={polled} />}
    </>
  );
}

/**
 * Asks for a connection for a stream of the caller's own while it is mounted: the trading-state
 * stream gives up its connection (the state is polled meanwhile), so the app still holds five
 * streams at most. True once that connection is free: open the stream only then. One such
 * stream at a time (one page shows).
 */
export function usePageStreamSlot(): boolean {
  const { pageStreams } = useLiveStores();
  useEffect(() => {
    pageStreams.update((slots) => ({ ...slots, wanted: slots.wanted + 1 }));
    return () => {
      pageStreams.update((slots) => ({ ...slots, wanted: slots.wanted - 1 }));
    };
  }, [pageStreams]);
  const slots = useStore(pageStreams);
  return slots.lent && slots.wanted > 0;
}

function forgetTradingState(stores: LiveStores, accounts: readonly string[]) {
  stores.tradingStates.update((states) => {
    if (!accounts.some((account) => states.has(account))) {
      return states;
    }
    const next = new Map(states);
    accounts.forEach((account) => next.delete(account));
    return next;
  });
}

function TradingStateStream({ stores, account }: StreamProps & { readonly account: string }) {
  const client = useClient(RiskService);
  const config = useAppConfig();
  const token = useToken();
  useEffect(
    () => () => {
      forgetTradingState(stores, [account]);
    },
    [stores, account],
  );
  useResilientStream<StreamTradingStateResponse>({
    name: STREAM_NAMES.tradingState,
    registry: stores.registry,
    restartKey: token,
    open: (signal) =>
      client.streamTradingState(
        { account, heartbeatInterval: heartbeatDuration(config.heartbeatIntervalMs) },
        { signal },
      ),
    onMessage: ({ payload }) => {
      if (payload.case === "state") {
        const state: TradingState = payload.value;
        stores.tradingStates.update((states) => new Map(states).set(account, state));
      } else if (payload.case === "marker") {
        applyMarker(stores.registry, STREAM_NAMES.tradingState, payload.value);
      }
    },
  });
  return null;
}

/** How often each account's own trading state is read when there are several accounts. */
export const TRADING_STATE_POLL_MS = 5000;

function TradingStatePoller({ stores, accounts }: StreamProps & { readonly accounts: readonly string[] }) {
  const transport = useTransport();
  // A failed read keeps the last state seen until the next one; the streams' health tells the
  // banner when the server is unreachable.
  const results = useQueries({
    queries: accounts.map((account) => ({
      ...createQueryOptions(RiskService.method.getTradingState, { account }, { transport }),
      refetchInterval: TRADING_STATE_POLL_MS,
    })),
  });
  const polled = results.map((result, index) => ({ account: accounts[index] ?? "", state: result.data?.state }));
  useEffect(() => {
    stores.tradingStates.update((states) => {
      const changed = polled.filter(({ account, state }) => state !== undefined && states.get(account) !== state);
      if (changed.length === 0) {
        return states;
      }
      const next = new Map(states);
      for (const { account, state } of changed) {
        if (state !== undefined) {
          next.set(account, state);
        }
      }
      return next;
    });
  });
  const key = accounts.join(",");
  useEffect(
    () => () => {
      forgetTradingState(stores, key.split(","));
    },
    [stores, key],
  );
  return null;
}

export function useGatewayStatus(): GatewayStatus | undefined {
  return useStore(useLiveStores().gateway).status;
}

export function usePortfolio(): PortfolioState {
  return useStore(useLiveStores().portfolio);
}

export function useOrderBook(): OrderBookState {
  return useStore(useLiveStores().orderBook);
}

/**
 * Records orders a command answered with (ModifyOrder's confirmed terms) before their event
 * arrives; a newer state already in the book wins, as for a listed snapshot.
 */
export function useRecordOrders(): (orders: readonly Order[]) => void {
  const { orderBook } = useLiveStores();
  return (orders) => {
    orderBook.update((state) => mergeListedOrders(state, orders));
  };
}

export function useQuotes(): QuotesState {
  return useStore(useLiveStores().quotes);
}

export function useWatchlist(): { contracts: readonly Contract[]; store: WatchlistStore } {
  const { watchlist } = useLiveStores();
  return { contracts: useStore(watchlist), store: watchlist };
}

export function useStreamStatuses() {
  return useStore(useLiveStores().registry);
}

export function useTradingStates(): TradingStates {
  return useStore(useLiveStores().tradingStates);
}

/** Everything that stops orders now (halts, gateway, TRADING_MODE), the most serious first. */
export function useTradingBlockers(): Blocker[] {
  const gateway = useGatewayStatus();
  const tradingStates = useTradingStates();
  const gatewayLive = useStreamStatuses().get(STREAM_NAMES.gateway)?.health.phase === "live";
  return tradingBlockers({ gateway, gatewayLive, tradingStates });
}
