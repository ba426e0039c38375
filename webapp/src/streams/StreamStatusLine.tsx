// One line saying how a page's own stream is doing: connecting, live, paused while IB Gateway is
// disconnected (the data shown is stale), or reconnecting with the reason and the attempt.
import { errorTitle } from "../api/apiError";
import type { StreamStatus } from "./healthRegistry";

export interface StreamStatusLineProps {
  readonly status: StreamStatus | "waiting";
  readonly testId: string;
}

export function streamStatusText(status: StreamStatus | "waiting"): { text: string; tone: "ok" | "warning" | "error" } {
  if (status === "waiting") {
    return { text: "Waiting for a connection…", tone: "warning" };
  }
  if (status.paused) {
    const detail = status.pauseDetail === "" ? "" : ` (${status.pauseDetail})`;
    return { text: `Stale: IB Gateway disconnected${detail}`, tone: "warning" };
  }
  switch (status.health.phase) {
    case "live":
      return { text: "Live", tone: "ok" };
    case "connecting":
      return { text: "Connecting…", tone: "warning" };
    case "stopped":
      return { text: "Stopped", tone: "warning" };
    case "reconnecting": {
      const reason = status.health.lastError;
      const why = reason === undefined ? "" : `: ${errorTitle(reason)}${reason.message === "" ? "" : ` ${reason.message}`}`;
      return { text: `Reconnecting (attempt ${status.health.attempt})${why}`, tone: "error" };
    }
  }
}

export function StreamStatusLine({ status, testId }: StreamStatusLineProps) {
  const { text, tone } = streamStatusText(status);
  return (
    <span className={`stream-status stream-status-${tone}`} role="status" data-testid={testId} data-state={tone}>
      {text}
    </span>
  );
}
