// The API token (a JWT) the user pasted: kept in sessionStorage, so it lives as long as the tab
// and is never written to disk by us. The transport's interceptor reads it on every call.

const STORAGE_KEY = "ibkr-grpc.apiToken";

export interface TokenStore {
  readonly get: () => string;
  readonly set: (token: string) => void;
  readonly subscribe: (listener: () => void) => () => void;
}

/** A token store over a Storage (sessionStorage in the app, a fresh one in tests). */
export function createTokenStore(storage: Storage | undefined): TokenStore {
  let token = storage?.getItem(STORAGE_KEY) ?? "";
  const listeners = new Set<() => void>();
  return {
    get: () => token,
    set(next) {
      token = next.trim();
      if (token === "") {
        storage?.removeItem(STORAGE_KEY);
      } else {
        storage?.setItem(STORAGE_KEY, token);
      }
      listeners.forEach((listener) => {
        listener();
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
