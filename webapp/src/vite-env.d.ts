/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Where Envoy serves gRPC-Web; the page's origin when unset. */
  readonly VITE_API_BASE_URL?: string;
  /** Heartbeat interval the streams ask for, 1 to 300 seconds (default 5). */
  readonly VITE_HEARTBEAT_INTERVAL_SECONDS?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
