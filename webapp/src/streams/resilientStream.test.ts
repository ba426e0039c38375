import { describe, expect, it, vi } from "vitest";
import { backoffDelay } from "./backoff";
import type { StreamHealth } from "./resilientStream";
import { startResilientStream } from "./resilientStream";

const FAST = { initialDelayMs: 5, maximumDelayMs: 20, jitter: 0 };

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener("abort", () => {
      reject(new Error("aborted"));
    }, { once: true });
  });
}

describe("backoffDelay", () => {
  it("doubles from the initial delay up to the cap", () => {
    const policy = { initialDelayMs: 500, maximumDelayMs: 30_000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50].map((attempt) => backoffDelay(policy, attempt))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it("takes jitter off, never adds it", () => {
    const policy = { initialDelayMs: 1000, maximumDelayMs: 30_000, jitter: 0.2 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(1000);
    expect(backoffDelay(policy, 1, () => 1)).toBe(800);
  });
});

describe("startResilientStream", () => {
  it("reopens a failed stream and reports its health on the way", async () => {
    const healths: StreamHealth[] = [];
    const received: number[] = [];
    let opens = 0;
    const handle = startResilientStream<number>({
      async *open(signal) {
        opens += 1;
        if (opens === 1) {
          yield 1;
          throw new Error("connection reset");
        }
        yield 2;
        await waitForAbort(signal);
      },
      onMessage: (message) => received.push(message),
      onHealth: (health) => healths.push(health),
      heartbeatIntervalMs: 1000,
      backoff: FAST,
    });
    await vi.waitFor(() => {
      expect(received).toEqual([1, 2]);
    });
    handle.stop();
    expect(healths.map((health) => health.phase)).toEqual(["connecting", "live", "reconnecting", "live", "stopped"]);
    const reconnecting = healths[2];
    expect(reconnecting?.attempt).toBe(1);
    expect(reconnecting?.lastError?.message).toBe("connection reset");
  });

  it("backs off further on each failure in a row and resets after a message", async () => {
    const attempts: number[] = [];
    let opens = 0;
    const handle = startResilientStream<number>({
      // Fails before the first message, like a refused connection.
      open: () => {
        opens += 1;
        const error = new Error(`refused ${opens}`);
        return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
      },
      onMessage: () => undefined,
      onHealth: (health) => {
        if (health.phase === "reconnecting") {
          attempts.push(health.attempt);
        }
      },
      heartbeatIntervalMs: 1000,
      backoff: FAST,
    });
    await vi.waitFor(() => {
      expect(attempts.length).toBeGreaterThanOrEqual(4);
    });
    handle.stop();
    expect(attempts.slice(0, 4)).toEqual([1, 2, 3, 4]);
  });

  it("treats a stream silent for three heartbeat intervals as dead and reopens it", async () => {
    const healths: StreamHealth[] = [];
    const signals: AbortSignal[] = [];
    const handle = startResilientStream<string>({
      async *open(signal) {
        signals.push(signal);
        yield "snapshot";
        // Then nothing at all, not even heartbeats.
        await waitForAbort(signal);
      },
      onMessage: () => undefined,
      onHealth: (health) => healths.push(health),
      heartbeatIntervalMs: 20,
      backoff: FAST,
    });
    await vi.waitFor(() => {
      expect(signals.length).toBeGreaterThanOrEqual(2);
    });
    handle.stop();
    expect(signals[0]?.aborted).toBe(true);
    const reconnect = healths.find((health) => health.phase === "reconnecting");
    expect(reconnect?.lastError?.message).toContain("missed heartbeats");
  });

  it("keeps a stream that receives heartbeats", async () => {
    let opens = 0;
    const handle = startResilientStream<string>({
      async *open(signal) {
        opens += 1;
        while (!signal.aborted) {
          yield "heartbeat";
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
      onMessage: () => undefined,
      onHealth: () => undefined,
      heartbeatIntervalMs: 20,
      backoff: FAST,
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    handle.stop();
    expect(opens).toBe(1);
  });

  it("stop() aborts the open attempt and opens nothing more", async () => {
    const signals: AbortSignal[] = [];
    const healths: StreamHealth[] = [];
    const handle = startResilientStream<string>({
      async *open(signal) {
        signals.push(signal);
        yield "first";
        await waitForAbort(signal);
      },
      onMessage: () => undefined,
      onHealth: (health) => healths.push(health),
      heartbeatIntervalMs: 1000,
      backoff: FAST,
    });
    await vi.waitFor(() => {
      expect(healths.at(-1)?.phase).toBe("live");
    });
    handle.stop();
    handle.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(healths.map((health) => health.phase)).toEqual(["connecting", "live", "stopped"]);
  });
});
