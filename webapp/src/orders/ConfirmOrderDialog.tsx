// The confirmation step of the order ticket: what will be sent, its notional (exact decimal
// arithmetic), an optional server-side what-if preview, and Confirm / Back. Focus starts on
// Confirm; Escape goes back.
import type { OrderPreview, PlaceOrderRequest } from "@ibkr-grpc/client";
import { OrderTypeSchema, SideSchema, TimeInForce, TimeInForceSchema } from "@ibkr-grpc/client";
import { useRef } from "react";
import type { ApiError } from "../api/apiError";
import { Dialog } from "../components/Dialog";
import { ErrorPanel } from "../components/ErrorPanel";
import { formatMoney } from "../lib/decimal";
import { enumName } from "../lib/enums";
import { contractLabel } from "../state/contracts";
import type { Notional } from "./ticket";

export interface ConfirmOrderDialogProps {
  readonly request: PlaceOrderRequest;
  readonly notional: Notional | undefined;
  readonly submitting: boolean;
  readonly preview: OrderPreview | undefined;
  readonly previewError: ApiError | undefined;
  readonly onConfirm: () => void;
  readonly onPreview: () => void;
  readonly onCancel: () => void;
}

function describePrices(request: PlaceOrderRequest): string {
  const parts: string[] = [];
  if (request.limitPrice !== "") parts.push(`limit ${request.limitPrice}`);
  if (request.stopPrice !== "") parts.push(`stop ${request.stopPrice}`);
  if (request.trailingAmount !== "") parts.push(`trail ${request.trailingAmount}`);
  if (request.trailingPercent !== "") parts.push(`trail ${request.trailingPercent} %`);
  return parts.join(", ");
}

export function ConfirmOrderDialog(props: ConfirmOrderDialogProps) {
  const { request, notional, submitting, preview, previewError } = props;
  const confirmButton = useRef<HTMLButtonElement>(null);
  const contract = request.contract === undefined ? "" : contractLabel(request.contract);
  const timeInForce =
    request.timeInForce === TimeInForce.UNSPECIFIED ? "DAY" : enumName(TimeInForceSchema, request.timeInForce);
  const currency = request.contract?.currency ?? "";

  return (
    <Dialog title="Confirm order" onClose={props.onCancel} initialFocus={confirmButton} testId="confirm-dialog">
      <dl className="facts confirm-facts">
        <div className="fact">
          <dt>Order</dt>
          <dd data-testid="confirm-summary">
            {enumName(SideSchema, request.side)} {request.quantity} {contract}{" "}
            {enumName(OrderTypeSchema, request.orderType)}
            {describePrices(request) === "" ? "" : ` (${describePrices(request)})`} {timeInForce}
            {request.outsideRegularHours ? " +outside RTH" : ""}
          </dd>
        </div>
        {request.account !== "" && (
          <div className="fact">
            <dt>Account</dt>
            <dd>{request.account}</dd>
          </div>
        )}
        {request.takeProfit !== undefined && (
          <div className="fact">
            <dt>Take profit</dt>
            <dd data-testid="confirm-take-profit">limit {request.takeProfit.limitPrice}</dd>
          </div>
        )}
        {request.stopLoss !== undefined && (
          <div className="fact">
            <dt>Stop loss</dt>
            <dd data-testid="confirm-stop-loss">
              stop {request.stopLoss.stopPrice}
              {request.stopLoss.limitPrice === "" ? "" : `, limit ${request.stopLoss.limitPrice}`}
            </dd>
          </div>
        )}
        <div className="fact">
          <dt>Notional</dt>
          <dd data-testid="confirm-notional" className="num">
            {notional === undefined
              ? "unknown (no price yet)"
              : `${request.quantity} × ${notional.price}${notional.multiplier === "" ? "" : ` × ${notional.multiplier}`} = ${formatMoney(notional.value)} ${currency}`}
          </dd>
        </div>
        {notional !== undefined && (
          <div className="fact">
            <dt>Priced at</dt>
            <dd className="muted">{notional.priceSource}</dd>
          </div>
        )}
        <div className="fact">
          <dt>Client order id</dt>
          <dd className="muted mono">{request.clientOrderId}</dd>
        </div>
      </dl>
      {preview !== undefined && (
        <dl className="facts" data-testid="confirm-preview" aria-label="Server preview">
          <div className="fact">
            <dt>Server notional</dt>
            <dd className="num">
              {formatMoney(preview.notional)} {preview.currency}
            </dd>
          </div>
          <div className="fact">
            <dt>Initial margin change</dt>
            <dd className="num">{preview.initialMarginChange === "" ? "—" : formatMoney(preview.initialMarginChange)}</dd>
          </div>
          <div className="fact">
            <dt>Commission</dt>
            <dd className="num">
              {preview.commissionMinimum === ""
                ? "—"
                : `${formatMoney(preview.commissionMinimum)} – ${formatMoney(preview.commissionMaximum)}`}
            </dd>
          </div>
          {preview.warnings.map((warning) => (
            <div key={warning} className="fact warning">
              <dt>Warning</dt>
              <dd>{warning}</dd>
            </div>
          ))}
        </dl>
      )}
      {previewError !== undefined && <ErrorPanel error={previewError} command="place" testId="preview-error" />}
      <div className="dialog-actions">
        <button type="button" onClick={props.onCancel} data-testid="confirm-cancel" disabled={submitting}>
          Back
        </button>
        <button type="button" onClick={props.onPreview} data-testid="confirm-preview-button" disabled={submitting}>
          What-if preview
        </button>
        <button
          ref={confirmButton}
          type="button"
          className="primary"
          onClick={props.onConfirm}
          disabled={submitting}
          data-testid="confirm-submit"
        >
          {submitting ? "Sending…" : `Confirm ${enumName(SideSchema, request.side)}`}
        </button>
      </div>
    </Dialog>
  );
}
