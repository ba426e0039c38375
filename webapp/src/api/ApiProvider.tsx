// Injects the one transport (and the token store its interceptor reads) and the one query client
// into the tree. connect-query's hooks read both for the unary reads; useClient builds typed
// clients for streams and commands. Components never create transports or clients themselves.
import type { DescService } from "@bufbuild/protobuf";
import type { Client, Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import type { QueryClient } from "@tanstack/react-query";
import { QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { createContext, useContext, useEffect, useMemo, useSyncExternalStore } from "react";
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
  readonly queryClient: QueryClient;
  readonly config: AppConfig;
  readonly children: ReactNode;
}

export function ApiProvider({ transport, tokens, queryClient, config, children }: ApiProviderProps) {
  const value = useMemo(() => ({ transport, tokens }), [transport, tokens]);
  // The token is not part of the reads' keys (the interceptor adds it): a new token drops what was
  // read with the old one and reads again, as the streams restart.
  useEffect(
    () =>
      tokens.subscribe(() => {
        void queryClient.resetQueries();
      }),
    [tokens, queryClient],
  );
  return (
    <AppConfigContext.Provider value={config}>
      <QueryClientProvider client={queryClient}>
        <TransportProvider transport={transport}>
          <ApiContext.Provider value={value}>{children}</ApiContext.Provider>
        </TransportProvider>
      </QueryClientProvider>
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
