// A minimal external store for React's useSyncExternalStore: immutable snapshots, replaced on
// every change.
import { useSyncExternalStore } from "react";

export class Store<State> {
  private state: State;
  private readonly listeners = new Set<() => void>();

  constructor(initial: State) {
    this.state = initial;
  }

  readonly getSnapshot = (): State => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  update(change: (state: State) => State): void {
    const next = change(this.state);
    if (next !== this.state) {
      this.state = next;
      this.listeners.forEach((listener) => {
        listener();
      });
    }
  }
}

export function useStore<State>(store: Store<State>): State {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
