// One place that turns any failure of a call into what the UI shows: the gRPC code, the catalogue
// reason from ErrorInfo (domain ibkr.v1), field violations from BadRequest and the other details.
// The detail schemas are generated from google/rpc/error_details.proto into the client package.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  QuotaFailureSchema,
  RetryInfoSchema,
} from "@ibkr-grpc/client";

export const ERROR_DOMAIN = "ibkr.v1";

export interface FieldViolation {
  /** The request field path, as the server names it ("limit_price", "take_profit.limit_price"). */
  readonly field: string;
  readonly description: string;
}

export interface ApiError {
  /** The gRPC code's name, e.g. "invalid_argument". */
  readonly codeName: string;
  readonly code: Code;
  /** ErrorInfo.reason for domain ibkr.v1 ("VALIDATION_ERROR"); "" when the server sent none. */
  readonly reason: string;
  readonly message: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  /** "subject: description" of PreconditionFailure and QuotaFailure violations. */
  readonly violations: readonly string[];
  /** RetryInfo's delay in milliseconds, when the server said when to retry. */
  readonly retryDelayMs: number | undefined;
  /** x-request-id of the failed call, to find it in the server's logs. */
  readonly requestId: string;
}

function codeName(code: Code): string {
  const name = Code[code] as string | undefined;
  return name === undefined ? `code ${code}` : name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Describes any thrown value; unexpected values become an "unknown" error, never a throw. */
export function describeError(error: unknown): ApiError {
  const connectError = ConnectError.from(error);
  const errorInfo = connectError
    .findDetails(ErrorInfoSchema)
    .find((info) => info.domain === ERROR_DOMAIN || info.domain === "");
  const fieldViolations = connectError
    .findDetails(BadRequestSchema)
    .flatMap((badRequest) => badRequest.fieldViolations)
    .map((violation) => ({ field: violation.field, description: violation.description }));
  const violations = [
    ...connectError.findDetails(PreconditionFailureSchema).flatMap((failure) => failure.violations),
    ...connectError.findDetails(QuotaFailureSchema).flatMap((failure) => failure.violations),
  ].map((violation) => `${violation.subject}: ${violation.description}`);
  const retryDelay = connectError.findDetails(RetryInfoSchema)[0]?.retryDelay;
  const retryDelayMs =
    retryDelay === undefined
      ? undefined
      : Number(retryDelay.seconds) * 1000 + Math.round(retryDelay.nanos / 1_000_000);
  return {
    code: connectError.code,
    codeName: codeName(connectError.code),
    reason: errorInfo?.reason ?? "",
    message: connectError.rawMessage,
    metadata: errorInfo?.metadata ?? {},
    fieldViolations,
    violations,
    retryDelayMs,
    requestId: connectError.metadata.get("x-request-id") ?? "",
  };
}

/** "REASON (code)" or just the code when the server gave no reason. */
export function errorTitle(error: ApiError): string {
  return error.reason === "" ? error.codeName : `${error.reason} (${error.codeName})`;
}

/** True when the call was cancelled by us (an aborted stream), not failed by the server. */
export function isCancellation(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.Canceled;
}
