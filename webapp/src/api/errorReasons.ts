// What each reason of the error catalogue (errors.proto) means to the trader, in one exhaustive
// map: a reason added to the contract fails the build until it has words. A reason a newer
// server sends that this client does not know gets no summary and is shown by its gRPC code.
import { ErrorReason } from "@ibkr-grpc/client";
import type { ApiError } from "./apiError";

const REASON_SUMMARIES = {
  [ErrorReason.UNSPECIFIED]: "",
  [ErrorReason.VALIDATION_ERROR]: "A field is missing, malformed or out of range.",
  [ErrorReason.ORDER_VALIDATION_FAILED]: "The order does not make sense as a whole.",
  [ErrorReason.INSUFFICIENT_FUNDS]: "Not enough buying power or cash.",
  [ErrorReason.POSITION_LIMIT_EXCEEDED]: "The order would take a position or the gross exposure past its limit.",
  [ErrorReason.SYMBOL_NOT_ALLOWED]: "The symbol may not be traded here.",
  [ErrorReason.MARKET_CLOSED]: "The market is closed and the order may not rest outside regular hours.",
  [ErrorReason.RATE_LIMIT_EXCEEDED]: "Too many requests or orders; wait before retrying.",
  [ErrorReason.TRADING_HALTED]: "Trading is halted; cancels still work.",
  [ErrorReason.IB_CONNECTION_FAILED]:
    "The server has no ready session with IB Gateway; retrying the same ticket is safe (same client order id).",
  [ErrorReason.IB_INVALID_CONTRACT]: "IB knows no such contract, or the description matches more than one.",
  [ErrorReason.IB_ORDER_REJECTED]: "IB rejected the order.",
  [ErrorReason.IB_MARKET_DATA_ERROR]: "IB could not provide market data.",
  [ErrorReason.IB_PACING_VIOLATION]: "The request would break IB's pacing rules; wait before retrying.",
  [ErrorReason.IB_REQUEST_TIMEOUT]:
    "IB did not answer in time. For an order the outcome is unknown: it stays in flight until reconciliation settles it.",
  [ErrorReason.ORDER_NOT_FOUND]: "No such order.",
  [ErrorReason.ORDER_NOT_MODIFIABLE]: "The order's state does not allow this.",
  [ErrorReason.DUPLICATE_CLIENT_ORDER_ID]: "This client order id was used before for a different order.",
  [ErrorReason.ACCOUNT_NOT_FOUND]: "The account is not one the gateway manages.",
  [ErrorReason.ORDER_SIZE_LIMIT_EXCEEDED]: "The order's quantity or notional is past the per-order limit.",
  [ErrorReason.PRICE_OUTSIDE_COLLAR]: "The price is too far from the last quote.",
  [ErrorReason.OPEN_ORDER_LIMIT_EXCEEDED]: "The account has as many open orders as it may have.",
  [ErrorReason.DAILY_LOSS_LIMIT_EXCEEDED]: "The account's loss today is past the daily loss limit.",
  [ErrorReason.ORDER_TYPE_NOT_ALLOWED]: "The order type, or trading outside regular hours, is not allowed.",
  [ErrorReason.MARKET_DATA_LINE_LIMIT_EXCEEDED]: "All market-data lines are in use.",
  [ErrorReason.AUTHENTICATION_FAILED]: "The API token is missing, malformed or expired.",
  [ErrorReason.PERMISSION_DENIED]: "The API token does not allow this.",
  [ErrorReason.INTERNAL_ERROR]: "The server failed unexpectedly; its logs have the details under the request id.",
  [ErrorReason.SERVICE_UNAVAILABLE]: "The server is shutting down or its database is unreachable; retry shortly.",
  [ErrorReason.IB_COMMAND_REFUSED]: "IB refused the command; the order is unchanged.",
  [ErrorReason.TRADING_MODE_MISMATCH]:
    "The gateway's accounts do not match the server's paper/live setting: new orders and modifications are refused until the configuration is fixed (cancels still work).",
  [ErrorReason.SUBSCRIPTION_LIMIT_EXCEEDED]:
    "IB's limit on this kind of subscription (market depth, tick-by-tick) is reached; end one before starting another.",
  [ErrorReason.EVENTS_ARCHIVED]:
    "The order events after this point were archived; resume from the archived-through sequence or replay from the start.",
} as const satisfies Record<ErrorReason, string>;

const SUMMARIES_BY_NUMBER: Readonly<Partial<Record<number, string>>> = REASON_SUMMARIES;

// The generated enum's names are the reasons' wire names without "ERROR_REASON_".
const REASONS_BY_NAME: ReadonlyMap<string, ErrorReason> = new Map(
  Object.values(ErrorReason)
    .filter((value) => typeof value === "number")
    .map((value) => [ErrorReason[value], value]),
);

/** The catalogue value of the error's ErrorInfo.reason ("IB_COMMAND_REFUSED"); undefined when unknown or absent. */
export function reasonOf(error: ApiError): ErrorReason | undefined {
  if (error.reason === "") {
    return undefined;
  }
  return REASONS_BY_NAME.get(error.reason);
}

/** The command a failed call was: the error's words depend on it. */
export type OrderCommand = "place" | "modify" | "cancel";

/** One sentence for the trader; "" when the reason is unknown or absent (the code and message say it). */
export function errorSummary(error: ApiError, command?: OrderCommand): string {
  const reason = reasonOf(error);
  if (reason === undefined) {
    return "";
  }
  if (reason === ErrorReason.IB_COMMAND_REFUSED && (command === "modify" || command === "cancel")) {
    const what = command === "modify" ? "modification" : "cancel";
    const code = error.metadata["ib_error_code"] ?? "";
    const message = error.message === "" ? "" : `: ${error.message}`;
    return `IB refused the ${what}${code === "" ? "" : ` (code ${code})`}${message}; the order is unchanged.`;
  }
  return SUMMARIES_BY_NUMBER[reason] ?? "";
}
