// Start-up: read the configuration once, build the one transport and query client, and render
// the app.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiProvider } from "./api/ApiProvider";
import { createQueryClient } from "./api/queryClient";
import { createTokenStore } from "./api/tokenStore";
import { createApiTransport } from "./api/transport";
import { App } from "./app/App";
import { readConfig } from "./app/config";
import { LiveDataProvider } from "./state/LiveData";
import "./styles.css";

const config = readConfig(import.meta.env, window.location.origin);
const tokens = createTokenStore(window.sessionStorage);
const transport = createApiTransport(config.apiBaseUrl, tokens);
const queryClient = createQueryClient(config.backoff);

const root = document.getElementById("root");
if (root === null) {
  throw new Error("index.html has no #root element");
}
createRoot(root).render(
  <StrictMode>
    <ApiProvider transport={transport} tokens={tokens} queryClient={queryClient} config={config}>
      <LiveDataProvider storage={window.localStorage}>
        <App />
      </LiveDataProvider>
    </ApiProvider>
  </StrictMode>,
);
