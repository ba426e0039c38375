// The banner that says when trading or data is impaired: the gateway is not READY, a stream is
// reconnecting, or the server paused a stream because IB Gateway disconnected.
import { ConnectionState, ConnectionStateSchema } from "@ibkr-grpc/client";
import { errorTitle } from "../api/apiError";
import { enumName } from "../lib/enums";
import { useGatewayStatus, useStreamStatuses } from "../state/LiveData";

interface BannerLine {
  readonly key: string;
  readonly level: "warning" | "error";
  readonly text: string;
}

export function StatusBanner() {
  const status = useGatewayStatus();
  const streams = useStreamStatuses();
  const lines: BannerLine[] = [];

  if (status !== undefined && status.state !== ConnectionState.READY) {
    const detail = status.lastError === "" ? "" : ` Last error: ${status.lastError}`;
    const attempts = status.reconnectAttempts > 0 ? ` (reconnect attempt ${status.reconnectAttempts})` : "";
    lines.push({
      key: "gateway",
      level: status.state === ConnectionState.DISCONNECTED ? "error" : "warning",
      text: `Gateway ${enumName(ConnectionStateSchema, status.state)}${attempts}: orders are not accepted until it is READY.${detail}`,
    });
  }
  for (const [name, stream] of streams) {
    if (stream.health.phase === "reconnecting") {
      const reason = stream.health.lastError;
      const why = reason === undefined ? "" : `: ${errorTitle(reason)}${reason.message === "" ? "" : ` ${reason.message}`}`;
      lines.push({
        key: `stream:${name}`,
        level: "error",
        text: `${name} stream disconnected, reconnecting (attempt ${stream.health.attempt})${why}`,
      });
    }
    if (stream.paused) {
      lines.push({
        key: `paused:${name}`,
        level: "warning",
        text: `${name}: data paused, IB Gateway disconnected${stream.pauseDetail === "" ? "" : ` (${stream.pauseDetail})`}`,
      });
    }
  }

  if (lines.length === 0) {
    return null;
  }
  const level = lines.some((line) => line.level === "error") ? "error" : "warning";
  return (
    <div className={`status-banner status-banner-${level}`} role="status" data-testid="status-banner">
      {lines.map((line) => (
        <div key={line.key} className="status-banner-line" data-testid="status-banner-line">
          {line.text}
        </div>
      ))}
    </div>
  );
}
