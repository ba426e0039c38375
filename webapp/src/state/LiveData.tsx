// The live state of the app, shared by every page: gateway status, portfolio, order book and
// watchlist quotes, each fed by one resilient stream for as long as the app is open (switching
// pages never reopens a stream). The streams restart when the API token changes.
import { create } from "@bufbuild/protobuf";
import type {
  Contract,
  GatewayStatus,
  Order,
  StreamGatewayStatusResponse,
  StreamOrderEventsResponse,
  StreamPortfolioResponse,
  StreamQuotesResponse,
} from "@ibkr-grpc/client";
import {
  GatewayService,
  ListFillsRequestSchema,
  ListOrdersRequestSchema,
  MarketDataService,
  OrderService,
  PortfolioService,
  StreamMarkerType,
} from "@ibkr-grpc/client";
import type { ReactNode } from "react";
import { createContext, useContext, useState } from "react";
import { describeError, errorTitle } from "../api/apiError";
import { useClient, useToken } from "../api/ApiProvider";
import { useAppConfig } from "../app/config";
import { StreamHealthRegistry } from "../streams/healthRegistry";
import { applyMarker, heartbeatDuration, useResilientStream } from "../streams/useResilientStream";
import { contractKey } from "./contracts";
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
} as const;

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
  readonly watchlist: WatchlistStore;
}

export function createLiveStores(storage: Storage | undefined): LiveStores {
  return {
    registry: new StreamHealthRegistry(),
    gateway: new Store<GatewayState>({ status: undefined }),
    portfolio: new Store(EMPTY_PORTFOLIO),
    orderBook: new Store(EMPTY_ORDER_BOOK),
    quotes: new Store(EMPTY_QUOTES),
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
      <QuoteStream stores={stores} />
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

function OrderEventStream({ stores }: StreamProps) {
  const client = useClient(OrderService);
  const config = useAppConfig();
  const token = useToken();

  async function loadSnapshot(signal: AbortSignal) {
    try {
      const [orders, fills] = await Promise.all([
        client.listOrders(create(ListOrdersRequestSchema, { pageSize: SNAPSHOT_PAGE_SIZE }), { signal }),
        client.listFills(create(ListFillsRequestSchema, { pageSize: SNAPSHOT_PAGE_SIZE }), { signal }),
      ]);
      stores.orderBook.update((state) => ({
        ...mergeListedFills(mergeListedOrders(state, orders.orders), fills.fills),
        snapshotError: "",
      }));
    } catch (error) {
      if (!signal.aborted) {
        const described = describeError(error);
        stores.orderBook.update((state) => ({
          ...state,
          snapshotError: `${errorTitle(described)}: ${described.message}`,
        }));
      }
    }
  }

  useResilientStream<StreamOrderEventsResponse>({
    name: STREAM_NAMES.orders,
    registry: stores.registry,
    restartKey: token,
    open: (signal) => {
      // Resume after the last event applied: the server replays what we missed, with no gap.
      // Without one (first start), the stream starts live and the lists give the current book.
      const afterSequence = stores.orderBook.getSnapshot().lastSequence;
      stores.orderBook.update((state) => ({ ...state, replayComplete: false }));
      const stream = client.streamOrderEvents(
        { afterSequence, heartbeatInterval: heartbeatDuration(config.heartbeatIntervalMs) },
        { signal },
      );
      if (afterSequence === 0n) {
        void loadSnapshot(signal);
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

function QuoteStream({ stores }: StreamProps) {
  const client = useClient(MarketDataService);
  const config = useAppConfig();
  const token = useToken();
  const watched = useStore(stores.watchlist);
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
