#!/usr/bin/env node
// The ibkr.v1 API from Node.js over native gRPC: authenticates with a bearer token, places a
// limit order under an idempotency key, reads the order-event log, drops that stream itself,
// cancels the order while no stream is open, and resumes the log with after_sequence, so that the
// events it missed arrive replayed, none lost and none repeated.
//
//   node clients/node/dist/placeAndFollow.js --target 127.0.0.1:50051 --token "$TOKEN" \
//       --account DU1234567 --symbol AAPL --quantity 5 --limit-price 20 --client-order-id demo-1
//
// Every step prints one JSON line on stdout (see Step), the same lines as the Go example's. A
// failed call prints "failed: CODE REASON: message" on stderr, REASON being the ErrorInfo reason
// the server sent, and exits with status 1.
import { parseArgs } from "node:util";

import type { DescEnum, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import {
  ErrorInfoSchema,
  OrderEventTypeSchema,
  OrderService,
  OrderStatus,
  OrderStatusSchema,
  OrderType,
  SecurityType,
  Side,
  StreamMarkerType,
  StreamMarkerTypeSchema,
  TimeInForce,
  type Order,
  type StreamOrderEventsRequestSchema,
  type StreamOrderEventsResponse,
} from "@ibkr-grpc/client";

import { connectIbkr } from "./transport.js";

type Orders = Client<typeof OrderService>;

interface Options {
  target: string;
  token: string;
  tls: boolean;
  account: string;
  symbol: string;
  quantity: string;
  limitPrice: string;
  clientOrderId: string;
  timeoutSeconds: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      target: { type: "string", default: "127.0.0.1:50051" },
      token: { type: "string", default: process.env["IBKR_GRPC_TOKEN"] ?? "" },
      tls: { type: "boolean", default: false },
      account: { type: "string", default: "" },
      symbol: { type: "string", default: "AAPL" },
      quantity: { type: "string", default: "1" },
      "limit-price": { type: "string", default: "" },
      "client-order-id": { type: "string", default: "" },
      "timeout-seconds": { type: "string", default: "30" },
    },
    strict: true,
  });
  return {
    target: values.target,
    token: values.token,
    tls: values.tls,
    account: values.account,
    symbol: values.symbol,
    quantity: values.quantity,
    limitPrice: values["limit-price"],
    clientOrderId: values["client-order-id"],
    timeoutSeconds: Number(values["timeout-seconds"]),
  };
}

/** One line of output; the same fields as the Go example's. */
interface Step {
  step: "placed" | "event" | "marker" | "dropped" | "cancel_requested" | "resumed" | "done";
  stream?: number;
  sequence?: number;
  event_type?: string;
  marker?: string;
  order_id?: string;
  client_order_id?: string;
  status?: string;
}

function emit(line: Step): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The proto name of an enum value ("ORDER_STATUS_CANCELLED"), as the Go client prints it. */
function enumName(schema: DescEnum, value: number): string {
  return schema.value[value]?.name ?? String(value);
}

function orderStep(step: Step["step"], order: Order | undefined): Step {
  return {
    step,
    order_id: order?.orderId ?? "",
    client_order_id: order?.clientOrderId ?? "",
    status: enumName(OrderStatusSchema, order?.status ?? OrderStatus.UNSPECIFIED),
  };
}

/** Decides, after each message of a stream, whether the program has read enough. */
type Finished = (message: StreamOrderEventsResponse) => boolean;

/**
 * Reads one StreamOrderEvents stream until `done` says so, then drops it (leaving the loop
 * cancels the call). Returns the sequence of the last event read (`after` when there was none)
 * and fails if a sequence does not go up: the log is ordered and resuming must not repeat.
 */
async function readEvents(
  orders: Orders,
  stream: number,
  request: MessageInitShape<typeof StreamOrderEventsRequestSchema>,
  after: bigint,
  done: Finished,
  signal: AbortSignal,
): Promise<bigint> {
  let last = after;
  for await (const message of orders.streamOrderEvents(request, { signal })) {
    if (message.payload.case === "orderEvent") {
      const event = message.payload.value;
      if (event.sequence <= last) {
        throw new Error(`stream ${stream}: sequence ${event.sequence} after ${last}`);
      }
      last = event.sequence;
      emit({
        ...orderStep("event", event.order),
        stream,
        sequence: Number(last),
        event_type: enumName(OrderEventTypeSchema, event.type),
      });
    } else if (message.payload.case === "marker") {
      const marker = enumName(StreamMarkerTypeSchema, message.payload.value.type);
      emit({ step: "marker", stream, marker });
    }
    if (done(message)) {
      return last;
    }
  }
  throw new Error(`stream ${stream} ended after sequence ${last}`);
}

async function run(options: Options): Promise<void> {
  const { target, token, tls } = options;
  const connection = connectIbkr({ target, token, tls });
  try {
    await placeAndFollow(createClient(OrderService, connection.transport), options);
  } finally {
    connection.close();
  }
}

async function placeAndFollow(orders: Orders, options: Options): Promise<void> {
  const signal = AbortSignal.timeout(options.timeoutSeconds * 1000);

  const placed = await orders.placeOrder(
    {
      account: options.account,
      contract: { symbol: options.symbol, securityType: SecurityType.STOCK },
      side: Side.BUY,
      quantity: options.quantity,
      orderType: OrderType.LIMIT,
      limitPrice: options.limitPrice,
      timeInForce: TimeInForce.GTC,
      clientOrderId: options.clientOrderId,
    },
    { signal },
  );
  const orderId = placed.order?.orderId ?? "";
  emit(orderStep("placed", placed.order));

  // The first stream replays the whole log, which holds the new order's events, and is dropped
  // once the replay is complete.
  let seenOrder = false;
  let replayed = false;
  let last = await readEvents(
    orders,
    1,
    { replayFromStart: true },
    0n,
    ({ payload }) => {
      seenOrder ||= payload.case === "orderEvent" && payload.value.order?.orderId === orderId;
      replayed ||=
        payload.case === "marker" && payload.value.type === StreamMarkerType.REPLAY_COMPLETE;
      return seenOrder && replayed;
    },
    signal,
  );
  emit({ step: "dropped", stream: 1, sequence: Number(last) });

  // With no stream open, the order's cancel adds events to the log that stream 2 must replay.
  const cancelled = await orders.cancelOrder({ orderId }, { signal });
  emit(orderStep("cancel_requested", cancelled.order));

  emit({ step: "resumed", stream: 2, sequence: Number(last) });
  last = await readEvents(
    orders,
    2,
    { afterSequence: last },
    last,
    ({ payload }) =>
      payload.case === "orderEvent" &&
      payload.value.order?.orderId === orderId &&
      payload.value.order.status === OrderStatus.CANCELLED,
    signal,
  );
  emit({ step: "done", sequence: Number(last) });
}

/** Reports a failure by its gRPC code and the ErrorInfo reason in its status details. */
function describeFailure(error: unknown): string {
  const failure = ConnectError.from(error);
  const reason = failure.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
  return `failed: ${Code[failure.code]} ${reason}: ${failure.rawMessage}`;
}

try {
  await run(parseOptions());
} catch (error: unknown) {
  process.stderr.write(`${describeFailure(error)}\n`);
  process.exitCode = 1;
}
