// The app's configuration, read once at start-up and passed down through AppConfigContext.
import { createContext, useContext } from "react";
import type { BackoffPolicy } from "../streams/backoff";

export interface AppConfig {
  /** Where Envoy serves gRPC-Web; the page's own origin unless VITE_API_BASE_URL says otherwise. */
  readonly apiBaseUrl: string;
  /** The heartbeat interval every stream asks for; 3 missed intervals mean a dead stream. */
  readonly heartbeatIntervalMs: number;
  /** Reconnect delays of every stream. */
  readonly backoff: BackoffPolicy;
}

export interface ConfigSource {
  readonly VITE_API_BASE_URL?: string | undefined;
  readonly VITE_HEARTBEAT_INTERVAL_SECONDS?: string | undefined;
}

export function readConfig(env: ConfigSource, origin: string): AppConfig {
  const baseUrl = env.VITE_API_BASE_URL?.trim() ?? "";
  const heartbeatSeconds = Number.parseInt(env.VITE_HEARTBEAT_INTERVAL_SECONDS ?? "", 10);
  return {
    apiBaseUrl: (baseUrl === "" ? origin : baseUrl).replace(/\/+$/, ""),
    heartbeatIntervalMs:
      Number.isFinite(heartbeatSeconds) && heartbeatSeconds >= 1 && heartbeatSeconds <= 300
        ? heartbeatSeconds * 1000
        : 5000,
    backoff: { initialDelayMs: 500, maximumDelayMs: 30_000, jitter: 0.2 },
  };
}

export const AppConfigContext = createContext<AppConfig | undefined>(undefined);

export function useAppConfig(): AppConfig {
  const config = useContext(AppConfigContext);
  if (config === undefined) {
    throw new Error("useAppConfig outside AppConfigContext");
  }
  return config;
}
