// Runs a resilient stream for as long as the component is mounted (and restarts it when
// `restartKey` changes: a new token, a new watchlist), reporting its health to the registry.
import type { Duration } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { StreamMarker } from "@ibkr-grpc/client";
import { StreamMarkerType } from "@ibkr-grpc/client";
import { useEffect, useRef } from "react";
import { useAppConfig } from "../app/config";
import type { StreamHealthRegistry } from "./healthRegistry";
import { startResilientStream } from "./resilientStream";

export interface UseResilientStreamOptions<Message> {
  readonly name: string;
  readonly registry: StreamHealthRegistry;
  readonly open: (signal: AbortSignal) => AsyncIterable<Message>;
  readonly onMessage: (message: Message) => void;
  /** Restart the stream when this changes. */
  readonly restartKey: string;
  /** When false the stream is not run (e.g. an empty watchlist). */
  readonly enabled?: boolean;
}

export function useResilientStream<Message>(options: UseResilientStreamOptions<Message>): void {
  const config = useAppConfig();
  const { name, registry, restartKey, enabled = true } = options;
  const latest = useRef(options);
  useEffect(() => {
    latest.current = options;
  });
  useEffect(() => {
    if (!enabled) {
      registry.remove(name);
      return undefined;
    }
    const handle = startResilientStream<Message>({
      open: (signal) => latest.current.open(signal),
      onMessage: (message) => {
        latest.current.onMessage(message);
      },
      onHealth: (health) => {
        registry.setHealth(name, health);
      },
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      backoff: config.backoff,
    });
    return () => {
      handle.stop();
      registry.remove(name);
    };
  }, [name, registry, restartKey, enabled, config]);
}

/** The heartbeat interval to put on a stream request. */
export function heartbeatDuration(intervalMs: number): Duration {
  return create(DurationSchema, {
    seconds: BigInt(Math.floor(intervalMs / 1000)),
    nanos: (intervalMs % 1000) * 1_000_000,
  });
}

/** Tracks GATEWAY_DISCONNECTED / GATEWAY_RECONCILED markers for the banner. */
export function applyMarker(registry: StreamHealthRegistry, name: string, marker: StreamMarker): void {
  if (marker.type === StreamMarkerType.GATEWAY_DISCONNECTED) {
    registry.setPaused(name, true, marker.detail);
  } else if (marker.type === StreamMarkerType.GATEWAY_RECONCILED) {
    registry.setPaused(name, false, "");
  }
}
