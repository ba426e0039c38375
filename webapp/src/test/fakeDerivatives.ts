// The fake backend's options and order book: contract details of the stocks, an option chain
// with a window of calls and puts around the money, and depth books, with live tails the test
// pushes to. Registered by FakeBackend on the same router.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type {
  Contract,
  GetContractDetailsRequest,
  StreamMarketDepthRequest,
  StreamMarketDepthResponse,
  StreamOptionChainRequest,
  StreamOptionChainResponse,
} from "@ibkr-grpc/client";
import {
  ContractDetailsSchema,
  ContractSchema,
  MarketDepthLevelSchema,
  OptionChainSchema,
  OptionRight,
  QuoteSchema,
  SecurityType,
  StreamMarketDepthResponseSchema,
  StreamOptionChainResponseSchema,
} from "@ibkr-grpc/client";
import { LiveQueue } from "./fakeBackend";

export const UNDERLYING_CON_ID = 265598n;
export const EXPIRATIONS = ["20260320", "20260417"];
export const WINDOW_STRIKES = ["170", "180", "190", "200", "210"];

/** The con id the fake gives an option: strike x 10, plus 1 for a call and 2 for a put. */
export function optionConId(strike: string, right: OptionRight): bigint {
  return BigInt(Number(strike) * 10 + (right === OptionRight.CALL ? 1 : 2));
}

export function fakeOption(strike: string, right: OptionRight, expiration = EXPIRATIONS[0] ?? ""): Contract {
  return create(ContractSchema, {
    conId: optionConId(strike, right),
    symbol: "AAPL",
    securityType: SecurityType.OPTION,
    exchange: "SMART",
    currency: "USD",
    lastTradeDateOrContractMonth: expiration,
    strike,
    right,
    multiplier: "100",
    tradingClass: "AAPL",
  });
}

/** The fake's quote of an option: bid and ask a tenth apart, rising for calls as strikes fall. */
export function fakeOptionQuote(strike: string, right: OptionRight) {
  const distance = (190 - Number(strike)) / 10;
  const base = right === OptionRight.CALL ? 3 + distance : 3 - distance;
  const bid = Math.max(base, 0.1).toFixed(2);
  const ask = (Math.max(base, 0.1) + 0.1).toFixed(2);
  return create(QuoteSchema, {
    contract: fakeOption(strike, right),
    bid,
    ask,
    greeks: { impliedVolatility: "0.25", delta: right === OptionRight.CALL ? "0.5" : "-0.5" },
  });
}

type Record = (context: HandlerContext) => void;

export class FakeDerivatives {
  readonly detailsRequests: GetContractDetailsRequest[] = [];
  readonly chainRequests: StreamOptionChainRequest[] = [];
  readonly chainQueues: LiveQueue<StreamOptionChainResponse>[] = [];
  readonly depthRequests: StreamMarketDepthRequest[] = [];
  readonly depthQueues: LiveQueue<StreamMarketDepthResponse>[] = [];
  /** The book each depth stream starts with: [price, size] best first. */
  depthBids: [string, string][] = [
    ["10.00", "300"],
    ["9.99", "500"],
  ];
  depthAsks: [string, string][] = [
    ["10.02", "200"],
    ["10.03", "400"],
  ];

  getContractDetails(request: GetContractDetailsRequest) {
    this.detailsRequests.push(request);
    const symbol = request.contract?.symbol ?? "";
    if (symbol !== "AAPL") {
      return { details: [] };
    }
    const contract = create(ContractSchema, {
      conId: UNDERLYING_CON_ID,
      symbol,
      securityType: SecurityType.STOCK,
      exchange: "SMART",
      primaryExchange: "NASDAQ",
      currency: "USD",
    });
    return { details: [create(ContractDetailsSchema, { contract, longName: "APPLE INC", minimumTick: "0.01" })] };
  }

  getOptionChain() {
    const chain = (exchange: string) =>
      create(OptionChainSchema, {
        exchange,
        tradingClass: "AAPL",
        multiplier: "100",
        expirations: EXPIRATIONS,
        strikes: WINDOW_STRIKES,
        underlyingConId: UNDERLYING_CON_ID,
      });
    return { chains: [chain("CBOE"), chain("SMART")] };
  }

  async *streamOptionChain(request: StreamOptionChainRequest, context: HandlerContext, record: Record) {
    record(context);
    this.chainRequests.push(request);
    const queue = new LiveQueue<StreamOptionChainResponse>();
    this.chainQueues.push(queue);
    const underlying = request.underlying ?? create(ContractSchema);
    yield create(StreamOptionChainResponseSchema, {
      payload: {
        case: "window",
        value: {
          underlying,
          expiration: request.expiration,
          exchange: request.exchange,
          tradingClass: "AAPL",
          multiplier: "100",
          referencePrice: "190.05",
          atTheMoneyStrike: "190",
          strikes: WINDOW_STRIKES.map((strike) => ({
            strike,
            call: fakeOption(strike, OptionRight.CALL, request.expiration),
            put: fakeOption(strike, OptionRight.PUT, request.expiration),
          })),
        },
      },
    });
    const quotes = WINDOW_STRIKES.flatMap((strike) => [
      fakeOptionQuote(strike, OptionRight.CALL),
      fakeOptionQuote(strike, OptionRight.PUT),
    ]);
    quotes.push(create(QuoteSchema, { contract: underlying, bid: "190.00", ask: "190.10", last: "190.05" }));
    yield create(StreamOptionChainResponseSchema, { payload: { case: "quotes", value: { quotes } } });
    yield* queue.drain(context.signal);
  }

  async *streamMarketDepth(request: StreamMarketDepthRequest, context: HandlerContext, record: Record) {
    record(context);
    this.depthRequests.push(request);
    const queue = new LiveQueue<StreamMarketDepthResponse>();
    this.depthQueues.push(queue);
    const levels = (entries: [string, string][]) =>
      entries.map(([price, size]) => create(MarketDepthLevelSchema, { price, size }));
    yield create(StreamMarketDepthResponseSchema, {
      payload: {
        case: "book",
        value: { contract: request.contract, bids: levels(this.depthBids), asks: levels(this.depthAsks) },
      },
    });
    yield* queue.drain(context.signal);
  }
}
