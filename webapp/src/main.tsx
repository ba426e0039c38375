// Start-up: read the configuration once, build the one transport, and render the app.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiProvider } from "./api/ApiProvider";
import { createTokenStore } from "./api/tokenStore";
import { createApiTransport } from "./api/transport";
import { App } from "./app/App";
import { readConfig } from "./app/config";
import { LiveDataProvider } from "./state/LiveData";
import "./styles.css";

const config = readConfig(import.meta.env, window.location.origin);
const tokens = createTokenStore(window.sessionStorage);
const transport = createApiTransport(config.apiBaseUrl, tokens);

const root = document.getElementById("root");
if (root === null) {
  throw new Error("index.html has no #root element");
}
createRoot(root).render(
  <StrictMode>
    <ApiProvider transport={transport} tokens={tokens} config={config}>
      <LiveDataProvider storage={window.localStorage}>
        <App />
      </LiveDataProvider>
    </ApiProvider>
  </StrictMode>,
);
