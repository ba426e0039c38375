import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { RetryInfoSchema } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { READ_RETRIES, createQueryClient, isRetryableRead } from "./queryClient";

const BACKOFF = { initialDelayMs: 100, maximumDelayMs: 1000, jitter: 0 };

describe("the query client's read policy", () => {
  it("retries reads that may pass by themselves, never a refused or malformed one", () => {
    expect(isRetryableRead(new ConnectError("down", Code.Unavailable))).toBe(true);
    expect(isRetryableRead(new ConnectError("pacing", Code.ResourceExhausted))).toBe(true);
    expect(isRetryableRead(new TypeError("Failed to fetch"))).toBe(true);
    expect(isRetryableRead(new ConnectError("bad", Code.InvalidArgument))).toBe(false);
    expect(isRetryableRead(new ConnectError("token", Code.Unauthenticated))).toBe(false);
    expect(isRetryableRead(new ConnectError("account", Code.NotFound))).toBe(false);
  });

  it("waits as the streams do, or as long as the server's RetryInfo says; commands are never retried", () => {
    const defaults = createQueryClient(BACKOFF).getDefaultOptions();
    const retry = defaults.queries?.retry;
    const retryDelay = defaults.queries?.retryDelay;
    if (typeof retry !== "function" || typeof retryDelay !== "function") {
      throw new Error("the read policy is not set");
    }
    const unavailable = new ConnectError("down", Code.Unavailable);
    expect(retry(0, unavailable)).toBe(true);
    expect(retry(READ_RETRIES, unavailable)).toBe(false);
    expect([0, 1, 2].map((failures) => retryDelay(failures, unavailable))).toEqual([100, 200, 400]);
    const paced = new ConnectError("pacing", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: durationFromMs(2500) }) },
    ]);
    expect(retryDelay(0, paced)).toBe(2500);
    expect(defaults.mutations?.retry).toBe(false);
  });
});
