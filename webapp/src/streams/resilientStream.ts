// Keeps one server stream alive: opens it, watches it with a heartbeat watchdog, and reopens it
// after any end, error or silence with capped exponential backoff. It never gives up while
// started; stop() ends it for good.
import type { ApiError } from "../api/apiError";
import { describeError } from "../api/apiError";
import type { BackoffPolicy } from "./backoff";
import { backoffDelay } from "./backoff";

export type StreamPhase = "connecting" | "live" | "reconnecting" | "stopped";

export interface StreamHealth {
  readonly phase: StreamPhase;
  /** Failed attempts in a row; 0 once a message arrived. */
  readonly attempt: number;
  /** Why the last attempt ended. */
  readonly lastError: ApiError | undefined;
  /** When the next attempt starts (epoch ms), while reconnecting. */
  readonly retryAt: number | undefined;
}

export const INITIAL_HEALTH: StreamHealth = {
  phase: "connecting",
  attempt: 0,
  lastError: undefined,
  retryAt: undefined,
};

export interface ResilientStreamOptions<Message> {
  /** Opens one attempt; must end (throw) when `signal` aborts. */
  open(signal: AbortSignal): AsyncIterable<Message>;
  onMessage(message: Message): void;
  onHealth(health: StreamHealth): void;
  /** The interval the stream was asked to send heartbeats at. */
  readonly heartbeatIntervalMs: number;
  readonly backoff: BackoffPolicy;
  /** Heartbeat intervals without any message before the stream counts as dead. */
  readonly missedHeartbeats?: number;
}

export interface StreamHandle {
  stop(): void;
}

class StreamSilentError extends Error {
  override readonly name = "StreamSilentError";
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, milliseconds);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export function startResilientStream<Message>(options: ResilientStreamOptions<Message>): StreamHandle {
  const stopController = new AbortController();
  const stopped = () => stopController.signal.aborted;
  const silenceLimitMs = options.heartbeatIntervalMs * (options.missedHeartbeats ?? 3);
  let health: StreamHealth = INITIAL_HEALTH;

  function report(next: StreamHealth) {
    health = next;
    if (!stopped()) {
      options.onHealth(next);
    }
  }

  async function runAttempt(): Promise<unknown> {
    const attemptController = new AbortController();
    const abortAttempt = () => {
      attemptController.abort();
    };
    stopController.signal.addEventListener("abort", abortAttempt, { once: true });
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const armWatchdog = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        attemptController.abort(
          new StreamSilentError(`no message for ${silenceLimitMs / 1000} s (missed heartbeats)`),
        );
      }, silenceLimitMs);
    };
    try {
      armWatchdog();
      for await (const message of options.open(attemptController.signal)) {
        armWatchdog();
        if (health.phase !== "live") {
          report({ phase: "live", attempt: 0, lastError: undefined, retryAt: undefined });
        }
        options.onMessage(message);
      }
      return new Error("the server ended the stream");
    } catch (error) {
      const reason: unknown = attemptController.signal.reason;
      return reason instanceof StreamSilentError ? reason : error;
    } finally {
      clearTimeout(watchdog);
      stopController.signal.removeEventListener("abort", abortAttempt);
    }
  }

  async function run() {
    report(INITIAL_HEALTH);
    for (;;) {
      const error = await runAttempt();
      if (stopped()) {
        return;
      }
      const attempt = health.attempt + 1;
      const delay = backoffDelay(options.backoff, attempt);
      report({ phase: "reconnecting", attempt, lastError: describeError(error), retryAt: Date.now() + delay });
      await sleep(delay, stopController.signal);
      if (stopped()) {
        return;
      }
    }
  }

  void run();
  return {
    stop() {
      if (!stopController.signal.aborted) {
        options.onHealth({ ...health, phase: "stopped", retryAt: undefined });
        stopController.abort();
      }
    },
  };
}
