// Shows a failed call the way the error catalogue describes it: what it means for the trader,
// reason and code, message, field violations, precondition and quota violations, retry delay and
// request id.
import type { ApiError } from "../api/apiError";
import { errorTitle } from "../api/apiError";
import type { OrderCommand } from "../api/errorReasons";
import { errorSummary } from "../api/errorReasons";

export interface ErrorPanelProps {
  readonly error: ApiError;
  /** The order command that failed, when it was one: a refusal names it. */
  readonly command?: OrderCommand | undefined;
  readonly testId?: string;
}

export function ErrorPanel({ error, command, testId = "error-panel" }: ErrorPanelProps) {
  const metadata = Object.entries(error.metadata);
  const summary = errorSummary(error, command);
  const messageInSummary = error.message !== "" && summary.includes(error.message);
  return (
    <div className="error-panel" role="alert" data-testid={testId}>
      {summary !== "" && (
        <div className="error-summary" data-testid="error-summary">
          {summary}
        </div>
      )}
      <div className="error-title" data-testid="error-reason">
        {errorTitle(error)}
      </div>
      {error.message !== "" && !messageInSummary && <div className="error-message">{error.message}</div>}
      {error.fieldViolations.length > 0 && (
        <ul className="error-list" aria-label="Field violations">
          {error.fieldViolations.map((violation) => (
            <li key={`${violation.field}:${violation.description}`} data-testid="error-field">
              <code>{violation.field}</code>: {violation.description}
            </li>
          ))}
        </ul>
      )}
      {error.violations.length > 0 && (
        <ul className="error-list" aria-label="Violations">
          {error.violations.map((violation) => (
            <li key={violation}>{violation}</li>
          ))}
        </ul>
      )}
      {metadata.length > 0 && (
        <div className="error-meta">
          {metadata.map(([key, value]) => `${key}=${value}`).join(" · ")}
        </div>
      )}
      {error.retryDelayMs !== undefined && (
        <div className="error-meta">Retry in {(error.retryDelayMs / 1000).toFixed(1)} s</div>
      )}
      {error.requestId !== "" && <div className="error-meta">Request id {error.requestId}</div>}
    </div>
  );
}
