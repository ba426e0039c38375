// The one TanStack Query client of the app: caches the unary reads connect-query makes (bars,
// contract search, order and fill lists, trading states), cancels a read nobody waits for and
// never lets an older answer replace a newer one. Created once in main.tsx, like the transport.
import { Code, ConnectError } from "@connectrpc/connect";
import { QueryClient } from "@tanstack/react-query";
import type { BackoffPolicy } from "../streams/backoff";
import { backoffDelay } from "../streams/backoff";
import { describeError } from "./apiError";

/** How many times a failed read is tried again before its error is shown. */
export const READ_RETRIES = 2;

// Failures that may pass by themselves: the server or Envoy unreachable, a deadline, IB's pacing
// or our rate limit (which say when to retry). Anything else (a bad request, a refused token,
// no such account) fails the same way again.
const RETRYABLE_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Unknown,
]);

export function isRetryableRead(error: unknown): boolean {
  return RETRYABLE_CODES.has(ConnectError.from(error).code);
}

/**
 * Reads retry transient failures with the streams' backoff, or after the delay the server's
 * RetryInfo asks for. Commands (mutations) are never retried: an order is sent once, by the user.
 */
export function createQueryClient(backoff: BackoffPolicy): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // failureCount counts the failures before this one: 0 when the first attempt failed.
        retry: (failureCount, error) => failureCount < READ_RETRIES && isRetryableRead(error),
        retryDelay: (failureCount, error) =>
          describeError(error).retryDelayMs ?? backoffDelay(backoff, failureCount + 1),
      },
      mutations: { retry: false },
    },
  });
}
