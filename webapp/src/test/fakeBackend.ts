// Hand-written fakes of the services for component tests, served over an in-memory router
// transport. Streams replay what the fake holds, then deliver live messages pushed by the test
// until the client goes away or the test makes the stream fail.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type {
  Bar,
  CancelOrderRequest,
  Contract,
  ContractDescription,
  Fill,
  GatewayStatus,
  GetHistoricalBarsRequest,
  ModifyOrderRequest,
  Order,
  OrderEvent,
  PlaceOrderRequest,
  PlaceOrderResponse,
  StreamGatewayStatusResponse,
  StreamOrderEventsResponse,
  StreamPortfolioResponse,
  StreamQuotesResponse,
  StreamTradingStateResponse,
  TradingState,
  ResumeTradingRequest,
  HaltTradingRequest,

  CancelOrderResponseSchema,
  ModifyOrderResponseSchema} from "@ibkr-grpc/client";
import {
  BarSchema,
  ConnectionState,
  ContractSchema,
  GatewayService,
  GatewayStatusSchema,
  MarketDataService,
  OrderEventSchema,
  OrderEventType,
  OrderSchema,
  OptionService,
  OrderService,
  OrderStatus,
  OrderType,
  PlaceOrderResponseSchema,
  PortfolioService,
  QuoteSchema,
  RiskService,
  SecurityType,
  Side,
  StreamGatewayStatusResponseSchema,
  StreamMarkerSchema,
  StreamMarkerType,
  StreamOrderEventsResponseSchema,
  StreamPortfolioResponseSchema,
  StreamQuotesResponseSchema,
  StreamTradingStateResponseSchema,
  TimeInForce,
  TradingStateSchema,
  TradingMode,
} from "@ibkr-grpc/client";
import { FakeDerivatives } from "./fakeDerivatives";

/** A stream's live tail: the test pushes messages or an error; the handler ends when the client leaves. */
export class LiveQueue<Message> {
  private readonly items: Message[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  push(message: Message): void {
    this.items.push(message);
    this.wake?.();
  }

  fail(error: Error): void {
    this.failure = error;
    this.wake?.();
  }

  async *drain(signal: AbortSignal): AsyncGenerator<Message> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.failure !== undefined) {
        throw this.failure;
      }
      if (signal.aborted) {
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        signal.addEventListener("abort", () => {
          resolve();
        }, { once: true });
      });
      this.wake = undefined;
    }
  }
}

export function stock(symbol: string, conId = 0n): Contract {
  return create(ContractSchema, {
    conId,
    symbol,
    securityType: SecurityType.STOCK,
    exchange: "SMART",
    currency: "USD",
  });
}

export function order(orderId: string, overrides: Partial<Omit<Order, "$typeName" | "$unknown">> = {}): Order {
  return create(OrderSchema, {
    orderId,
    account: "DU111",
    contract: stock("AAPL"),
    side: Side.BUY,
    orderType: OrderType.LIMIT,
    quantity: "100",
    limitPrice: "187.25",
    timeInForce: TimeInForce.DAY,
    status: OrderStatus.SUBMITTED,
    filledQuantity: "0",
    remainingQuantity: "100",
    createTime: timestampFromMs(1_700_000_000_000),
    updateTime: timestampFromMs(1_700_000_000_000),
    ...overrides,
  });
}

export function orderEvent(sequence: bigint, eventOrder: Order, type = OrderEventType.STATUS_CHANGED): OrderEvent {
  return create(OrderEventSchema, {
    sequence,
    type,
    order: eventOrder,
    eventTime: timestampFromMs(1_700_000_000_000 + Number(sequence) * 1000),
  });
}

/** The start of the fake's first bar: a 5-minute boundary. */
export const BAR_START_MS = 1_699_999_800_000;

function marker(type: StreamMarkerType) {
  return create(StreamMarkerSchema, { type, detail: "" });
}

export class FakeBackend {
  gatewayStatus: GatewayStatus = create(GatewayStatusSchema, {
    state: ConnectionState.READY,
    tradingMode: TradingMode.PAPER,
    host: "127.0.0.1",
    port: 4002,
    clientId: 7,
    managedAccounts: ["DU111"],
  });
  portfolioSnapshot: StreamPortfolioResponse[] = [];
  orders: Order[] = [];
  fills: Fill[] = [];
  /** The stored order-event log; streams replay from it. */
  readonly eventLog: OrderEvent[] = [];
  searchResults: ContractDescription[] = [];
  /** Answers SearchContracts (the signal aborts when the client gives up); by default with searchResults, at once. */
  answerSearch: (query: string, signal: AbortSignal) => Promise<ContractDescription[]> | ContractDescription[] = () =>
    this.searchResults;
  /** The query of each SearchContracts call, in order. */
  readonly searchQueries: string[] = [];
  /** While set, ListOrders fails with it. */
  listOrdersFailure: ConnectError | undefined;
  /** How many times ListOrders was called. */
  listOrdersCalls = 0;
  /** The account of each GetTradingState call, in order. */
  readonly tradingStateReads: string[] = [];
  /** Four 5-minute bars from BAR_START_MS. */
  bars: Bar[] = ["187", "188.5", "188", "189.25"].map((close, index) =>
    create(BarSchema, {
      startTime: timestampFromMs(BAR_START_MS + index * 300_000),
      open: "187.5",
      high: "189.5",
      low: "186.75",
      close,
      volume: "1200",
    }),
  );
  readonly barRequests: GetHistoricalBarsRequest[] = [];
  placeOrder: (request: PlaceOrderRequest) => PlaceOrderResponse = (request) =>
    create(PlaceOrderResponseSchema, {
      order: order("ord_placed", { status: OrderStatus.SUBMITTED, quantity: request.quantity }),
    });

  cancelOrder: (request: CancelOrderRequest) => MessageInitShape<typeof CancelOrderResponseSchema> = (request) => ({
    order: order(request.orderId, { status: OrderStatus.PENDING_CANCEL }),
  });
  modifyOrder: (request: ModifyOrderRequest) => MessageInitShape<typeof ModifyOrderResponseSchema> = (request) => ({
    order: order(request.orderId),
  });

  // What the UI asked for, for assertions.
  readonly placedOrders: PlaceOrderRequest[] = [];
  readonly cancelRequests: CancelOrderRequest[] = [];
  readonly modifyRequests: ModifyOrderRequest[] = [];
  readonly orderStreamAfterSequences: bigint[] = [];
  /** The symbols of each StreamQuotes call, in order. */
  readonly quoteStreamSymbols: string[][] = [];
  readonly authorizationHeaders: (string | null)[] = [];
  openQuoteStreams = 0;
  cancelAllCalls = 0;
  /** While set, StreamPortfolio fails at once with UNAVAILABLE, as a server that is down. */
  portfolioDown = false;
  /** The same for StreamGatewayStatus. */
  gatewayDown = false;
  /** When set, every call without `authorization: Bearer <this>` fails UNAUTHENTICATED. */
  requiredToken: string | undefined;
  /** Requested account ("" for every account) -> its trading state. */
  readonly tradingStates = new Map<string, TradingState>();
  readonly tradingStateQueues: { account: string; queue: LiveQueue<StreamTradingStateResponse> }[] = [];
  readonly resumeRequests: ResumeTradingRequest[] = [];
  readonly haltRequests: HaltTradingRequest[] = [];
  /** Streams open now, and the most ever open at once (a browser has six connections). */
  openStreams = 0;
  maxOpenStreams = 0;
  /** Contract details, option chains and depth books. */
  readonly derivatives = new FakeDerivatives();
  /** The replay_last of each StreamOrderEvents call, in order. */
  readonly orderStreamReplayLast: number[] = [];

  readonly gatewayQueues: LiveQueue<StreamGatewayStatusResponse>[] = [];
  readonly portfolioQueues: LiveQueue<StreamPortfolioResponse>[] = [];
  readonly orderQueues: LiveQueue<StreamOrderEventsResponse>[] = [];
  readonly quoteQueues: LiveQueue<StreamQuotesResponse>[] = [];

  /** Appends to the log and delivers to every open order-event stream. */
  appendOrderEvent(event: OrderEvent): void {
    this.eventLog.push(event);
    for (const queue of this.orderQueues) {
      queue.push(create(StreamOrderEventsResponseSchema, { payload: { case: "orderEvent", value: event } }));
    }
  }

  /** Breaks the order-event streams open now (as a dropped connection would). */
  failOrderStreams(error = new ConnectError("connection reset", Code.Unavailable)): void {
    this.orderQueues.splice(0).forEach((queue) => {
      queue.fail(error);
    });
  }

  setGatewayStatus(status: Partial<GatewayStatus>): void {
    this.gatewayStatus = create(GatewayStatusSchema, { ...this.gatewayStatus, ...status });
    for (const queue of this.gatewayQueues) {
      queue.push(create(StreamGatewayStatusResponseSchema, { payload: { case: "status", value: this.gatewayStatus } }));
    }
  }

  tradingState(account: string): TradingState {
    return this.tradingStates.get(account) ?? create(TradingStateSchema, { halted: false, account });
  }

  /** Sets the state of `account` ("" for every account) and delivers it to its open streams. */
  setTradingState(account: string, state: MessageInitShape<typeof TradingStateSchema>): void {
    this.tradingStates.set(account, create(TradingStateSchema, { ...state, account }));
    for (const entry of this.tradingStateQueues) {
      // An account's stream follows the halt of every account too, as the server's does.
      const global = this.tradingState("");
      const own = this.tradingState(entry.account);
      const value = entry.account === "" || global.halted ? global : own;
      if (entry.account === "" ? account === "" : account === "" || account === entry.account) {
        entry.queue.push(create(StreamTradingStateResponseSchema, { payload: { case: "state", value } }));
      }
    }
  }

  register(router: ConnectRouter): void {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the generator handlers need the fake.
    const backend = this;
    const record = (context: HandlerContext) => {
      backend.openStreams += 1;
      backend.maxOpenStreams = Math.max(backend.maxOpenStreams, backend.openStreams);
      // The call's signal aborts when the stream ends, however it ends.
      context.signal.addEventListener(
        "abort",
        () => {
          backend.openStreams -= 1;
        },
        { once: true },
      );
      const header = context.requestHeader.get("authorization");
      backend.authorizationHeaders.push(header);
      if (backend.requiredToken !== undefined && header !== `Bearer ${backend.requiredToken}`) {
        throw new ConnectError("missing or invalid bearer token", Code.Unauthenticated);
      }
    };
    router.service(GatewayService, {
      getGatewayStatus: () => ({ status: this.gatewayStatus }),
      streamGatewayStatus: async function* (_request, context) {
        record(context);
        if (backend.gatewayDown) {
          throw new ConnectError("upstream connect error", Code.Unavailable);
        }
        const queue = new LiveQueue<StreamGatewayStatusResponse>();
        backend.gatewayQueues.push(queue);
        yield create(StreamGatewayStatusResponseSchema, { payload: { case: "status", value: backend.gatewayStatus } });
        yield* queue.drain(context.signal);
      },
    });
    router.service(PortfolioService, {
      streamPortfolio: async function* (_request, context) {
        record(context);
        if (backend.portfolioDown) {
          throw new ConnectError("upstream connect error", Code.Unavailable);
        }
        const queue = new LiveQueue<StreamPortfolioResponse>();
        backend.portfolioQueues.push(queue);
        yield* backend.portfolioSnapshot;
        yield create(StreamPortfolioResponseSchema, {
          payload: { case: "marker", value: marker(StreamMarkerType.SNAPSHOT_COMPLETE) },
        });
        yield* queue.drain(context.signal);
      },
    });
    router.service(OrderService, {
      placeOrder: (request) => {
        backend.placedOrders.push(request);
        return backend.placeOrder(request);
      },
      cancelOrder: (request) => {
        backend.cancelRequests.push(request);
        return backend.cancelOrder(request);
      },
      modifyOrder: (request) => {
        backend.modifyRequests.push(request);
        return backend.modifyOrder(request);
      },
      cancelAllOrders: () => {
        backend.cancelAllCalls += 1;
        return { orders: backend.orders.map((existing) => ({ ...existing, status: OrderStatus.PENDING_CANCEL })) };
      },
      listOrders: () => {
        backend.listOrdersCalls += 1;
        if (backend.listOrdersFailure !== undefined) {
          throw backend.listOrdersFailure;
        }
        return { orders: backend.orders };
      },
      listFills: () => ({ fills: backend.fills }),
      streamOrderEvents: async function* (request, context) {
        record(context);
        backend.orderStreamAfterSequences.push(request.afterSequence);
        backend.orderStreamReplayLast.push(request.replayLast);
        const queue = new LiveQueue<StreamOrderEventsResponse>();
        backend.orderQueues.push(queue);
        // As the contract says: 0 replays none and starts live, unless replay_last asks for the
        // newest events.
        const replay =
          request.replayLast > 0
            ? backend.eventLog.slice(-request.replayLast)
            : request.afterSequence === 0n
              ? []
              : backend.eventLog.filter((candidate) => candidate.sequence > request.afterSequence);
        for (const event of replay) {
          yield create(StreamOrderEventsResponseSchema, { payload: { case: "orderEvent", value: event } });
        }
        yield create(StreamOrderEventsResponseSchema, {
          payload: { case: "marker", value: marker(StreamMarkerType.REPLAY_COMPLETE) },
        });
        yield* queue.drain(context.signal);
      },
    });
    router.service(RiskService, {
      getTradingState: (request) => {
        backend.tradingStateReads.push(request.account);
        const global = backend.tradingState("");
        return { state: request.account === "" || global.halted ? global : backend.tradingState(request.account) };
      },
      resumeTrading: (request) => {
        backend.resumeRequests.push(request);
        backend.setTradingState(request.account, { halted: false });
        return { state: backend.tradingState(request.account) };
      },
      haltTrading: (request) => {
        backend.haltRequests.push(request);
        backend.setTradingState(request.account, { halted: true, reason: request.reason, haltedBy: "tester" });
        return { state: backend.tradingState(request.account), cancelledOrderIds: [] };
      },
      streamTradingState: async function* (request, context) {
        record(context);
        const queue = new LiveQueue<StreamTradingStateResponse>();
        const entry = { account: request.account, queue };
        backend.tradingStateQueues.push(entry);
        try {
          const global = backend.tradingState("");
          // As the server: the halt of every account wins, reported with no account.
          const value = request.account === "" || global.halted ? global : backend.tradingState(request.account);
          yield create(StreamTradingStateResponseSchema, { payload: { case: "state", value } });
          yield* queue.drain(context.signal);
        } finally {
          backend.tradingStateQueues.splice(backend.tradingStateQueues.indexOf(entry), 1);
        }
      },
    });
    router.service(OptionService, {
      getOptionChain: () => backend.derivatives.getOptionChain(),
      streamOptionChain: (request, context) => backend.derivatives.streamOptionChain(request, context, record),
    });
    router.service(MarketDataService, {
      searchContracts: async (request, context) => {
        backend.searchQueries.push(request.query);
        return { contracts: await backend.answerSearch(request.query, context.signal) };
      },
      getContractDetails: (request) => backend.derivatives.getContractDetails(request),
      streamMarketDepth: (request, context) => backend.derivatives.streamMarketDepth(request, context, record),
      getHistoricalBars: (request) => {
        backend.barRequests.push(request);
        return { contract: request.contract, bars: backend.bars };
      },
      streamQuotes: async function* (request, context) {
        record(context);
        backend.quoteStreamSymbols.push(request.contracts.map((contract) => contract.symbol));
        const queue = new LiveQueue<StreamQuotesResponse>();
        backend.quoteQueues.push(queue);
        backend.openQuoteStreams += 1;
        try {
          for (const contract of request.contracts) {
            yield create(StreamQuotesResponseSchema, {
              payload: {
                case: "quote",
                value: create(QuoteSchema, { contract, bid: "10.00", ask: "10.02", last: "10.01", close: "9.50" }),
              },
            });
          }
          yield* queue.drain(context.signal);
        } finally {
          backend.openQuoteStreams -= 1;
        }
      },
    });
  }
}
