// The health of every live stream by name, for the status banner: connection phase from the
// resilient stream runner, and whether the server paused the stream (GATEWAY_DISCONNECTED marker).
import { Store } from "../state/store";
import type { StreamHealth } from "./resilientStream";

export interface StreamStatus {
  readonly health: StreamHealth;
  /** Between a GATEWAY_DISCONNECTED and a GATEWAY_RECONCILED marker. */
  readonly paused: boolean;
  readonly pauseDetail: string;
}

export type StreamStatuses = ReadonlyMap<string, StreamStatus>;

export class StreamHealthRegistry extends Store<StreamStatuses> {
  constructor() {
    super(new Map());
  }

  setHealth(name: string, health: StreamHealth): void {
    this.update((statuses) => {
      const previous = statuses.get(name);
      const next = new Map(statuses);
      next.set(name, { paused: false, pauseDetail: "", ...previous, health });
      return next;
    });
  }

  setPaused(name: string, paused: boolean, detail: string): void {
    this.update((statuses) => {
      const previous = statuses.get(name);
      if (previous === undefined || (previous.paused === paused && previous.pauseDetail === detail)) {
        return statuses;
      }
      const next = new Map(statuses);
      next.set(name, { ...previous, paused, pauseDetail: detail });
      return next;
    });
  }

  remove(name: string): void {
    this.update((statuses) => {
      if (!statuses.has(name)) {
        return statuses;
      }
      const next = new Map(statuses);
      next.delete(name);
      return next;
    });
  }
}
