// Renders the whole app over an in-memory router transport serving a FakeBackend, with the real
// token interceptor and fast reconnects. A token is set unless the test says otherwise (without
// one the app opens on the onboarding screen until the server answers).
import { createRouterTransport } from "@connectrpc/connect";
import { render } from "@testing-library/react";
import { ApiProvider } from "../api/ApiProvider";
import { createQueryClient } from "../api/queryClient";
import { createTokenStore } from "../api/tokenStore";
import { bearerTokenInterceptor } from "../api/transport";
import { App } from "../app/App";
import type { AppConfig } from "../app/config";
import type { PageId } from "../app/navigation";
import { LiveDataProvider } from "../state/LiveData";
import { ChartSurfaceContext } from "../market/surfaceContext";
import { FakeBackend } from "./fakeBackend";
import { fakeChartSurfaces } from "./fakeChartSurface";

export const TEST_CONFIG: AppConfig = {
  apiBaseUrl: "http://fake.invalid",
  heartbeatIntervalMs: 2000,
  backoff: { initialDelayMs: 5, maximumDelayMs: 20, jitter: 0 },
};

export interface RenderAppOptions {
  readonly page?: PageId;
  readonly backend?: FakeBackend;
  readonly config?: AppConfig;
  /** The API token in sessionStorage when the app starts; "" for none. */
  readonly token?: string;
}

export const TEST_TOKEN = "header.test-token.signature";

export function renderApp(options: RenderAppOptions = {}) {
  const backend = options.backend ?? new FakeBackend();
  const tokens = createTokenStore(window.sessionStorage);
  tokens.set(options.token ?? TEST_TOKEN);
  const transport = createRouterTransport(
    (router) => {
      backend.register(router);
    },
    { transport: { interceptors: [bearerTokenInterceptor(tokens)] } },
  );
  const config = options.config ?? TEST_CONFIG;
  // A query client of the test's own, so that no read is cached from one test to the next.
  const queryClient = createQueryClient(config.backoff);
  const charts = fakeChartSurfaces();
  const result = render(
    <ApiProvider transport={transport} tokens={tokens} queryClient={queryClient} config={config}>
      <ChartSurfaceContext.Provider value={charts.loader}>
        <LiveDataProvider storage={window.localStorage}>
          <App initialPage={options.page ?? "dashboard"} />
        </LiveDataProvider>
      </ChartSurfaceContext.Provider>
    </ApiProvider>,
  );
  return { ...result, backend, tokens, queryClient, chartSurfaces: charts.surfaces };
}
