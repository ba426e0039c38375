// A stream of one page's own (an option chain, a depth ladder): it runs while its component is
// mounted, on the connection the trading-state stream lends it (usePageStreamSlot), with the
// same backoff, heartbeat watchdog and gateway markers as the app's streams. Its health is the
// component's to show, not the app banner's: a refused depth request is the ladder's news.
import { useState } from "react";
import type { StreamStatus } from "../streams/healthRegistry";
import { StreamHealthRegistry } from "../streams/healthRegistry";
import { applyMarker, useResilientStream } from "../streams/useResilientStream";
import type { StreamMarker } from "@ibkr-grpc/client";
import { usePageStreamSlot } from "./LiveData";
import { useStore } from "./store";

export interface UsePageStreamOptions<Message> {
  readonly name: string;
  /** Reopen the stream when this changes (a new token, another contract). */
  readonly restartKey: string;
  /** False while there is nothing to stream. */
  readonly enabled: boolean;
  readonly open: (signal: AbortSignal) => AsyncIterable<Message>;
  readonly onMessage: (message: Message) => void;
  /** The stream marker a message carries, if any. */
  readonly markerOf: (message: Message) => StreamMarker | undefined;
}

/** Runs the stream; its status ("waiting" until a connection is free). */
export function usePageStream<Message>(options: UsePageStreamOptions<Message>): StreamStatus | "waiting" {
  const slot = usePageStreamSlot();
  const [registry] = useState(() => new StreamHealthRegistry());
  const { name, markerOf, onMessage } = options;
  useResilientStream<Message>({
    name,
    registry,
    restartKey: options.restartKey,
    enabled: options.enabled && slot,
    open: options.open,
    onMessage: (message) => {
      const marker = markerOf(message);
      if (marker !== undefined) {
        applyMarker(registry, name, marker);
      }
      onMessage(message);
    },
  });
  const status = useStore(registry).get(name);
  return status ?? "waiting";
}
