// Injects the one transport (and the token store its interceptor reads) into the tree. Hooks build
// typed clients from it; components never create transports or clients themselves.
import type { DescService } from "@bufbuild/protobuf";
import type { Client, Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import type { ReactNode } from "react";
import { createContext, useContext, useMemo, useSyncExternalStore } from "react";
import type { AppConfig } from "../app/config";
import { AppConfigContext } from "../app/config";
import type { TokenStore } from "./tokenStore";

interface ApiContextValue {
  readonly transport: Transport;
  readonly tokens: TokenStore;
}

const ApiContext = createContext<ApiContextValue | undefined>(undefined);

export interface ApiProviderProps {
  readonly transport: Transport;
  readonly tokens: TokenStore;
  readonly config: AppConfig;
  readonly children: ReactNode;
}

export function ApiProvider({ transport, tokens, config, children }: ApiProviderProps) {
  const value = useMemo(() => ({ transport, tokens }), [transport, tokens]);
  return (
    <AppConfigContext.Provider value={config}>
      <ApiContext.Provider value={value}>{children}</ApiContext.Provider>
    </AppConfigContext.Provider>
  );
}

function useApiContext(): ApiContextValue {
  const value = useContext(ApiContext);
  if (value === undefined) {
    throw new Error("API hooks need an ApiProvider above them");
  }
  return value;
}

/** A typed client of `service` over the injected transport, stable across renders. */
export function useClient<Service extends DescService>(service: Service): Client<Service> {
  const { transport } = useApiContext();
  return useMemo(() => createClient(service, transport), [service, transport]);
}

export function useTokenStore(): TokenStore {
  return useApiContext().tokens;
}

/** The current token; re-renders when it changes (streams restart with the new one). */
export function useToken(): string {
  const tokens = useTokenStore();
  return useSyncExternalStore(tokens.subscribe, tokens.get);
}
