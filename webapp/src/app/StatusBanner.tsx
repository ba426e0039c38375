// The banner that says when trading or data is impaired: trading halted (for every account or
// one, with a Resume button for admins), the gateway not READY, TRADING_MODE blocking orders, a
// stream reconnecting, or the server pausing a stream because IB Gateway disconnected.
import { useState } from "react";
import { errorTitle } from "../api/apiError";
import { useStreamStatuses, useTradingBlockers } from "../state/LiveData";
import type { Blocker } from "../trading/availability";
import { TradingStateDialog, useIsAdmin } from "../trading/TradingStateDialogs";

interface BannerLine {
  readonly key: string;
  readonly level: "warning" | "error" | "halt";
  readonly text: string;
  readonly blocker?: Blocker;
}

export function StatusBanner() {
  const blockers = useTradingBlockers();
  const streams = useStreamStatuses();
  const admin = useIsAdmin();
  const [resuming, setResuming] = useState<string | undefined>(undefined);
  const lines: BannerLine[] = blockers.map((blocker) => ({
    key: `${blocker.kind}:${blocker.account}`,
    level: blocker.kind === "halt" ? "halt" : blocker.kind === "unknown" ? "warning" : "error",
    text: blocker.text,
    blocker,
  }));
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
  const level = lines.some((line) => line.level === "halt")
    ? "halt"
    : lines.some((line) => line.level === "error")
      ? "error"
      : "warning";
  return (
    <div className={`status-banner status-banner-${level}`} role="status" data-testid="status-banner">
      {lines.map((line) => (
        <div
          key={line.key}
          className={line.level === "halt" ? "status-banner-line status-banner-halt" : "status-banner-line"}
          data-testid={line.level === "halt" ? "halt-banner" : "status-banner-line"}
        >
          <span>
            {line.level === "halt" ? (
              <>
                <span className="halt-badge">HALTED</span> <strong>{line.text}</strong>
              </>
            ) : (
              line.text
            )}
          </span>
          {line.blocker?.kind === "halt" && admin && (
            <button
              type="button"
              className="small"
              data-testid="resume-trading"
              onClick={() => {
                setResuming(line.blocker?.account);
              }}
            >
              Resume trading…
            </button>
          )}
        </div>
      ))}
      {resuming !== undefined && (
        <TradingStateDialog
          action="resume"
          account={resuming}
          onClose={() => {
            setResuming(undefined);
          }}
        />
      )}
    </div>
  );
}
