// Confirms flattening a position: what will be sent (a market order for the opposite side and the
// whole quantity), roughly what it is worth, and the server's answer or refusal.
import type { PlaceOrderRequest, Position } from "@ibkr-grpc/client";
import { OrderService, SideSchema } from "@ibkr-grpc/client";
import { useRef, useState } from "react";
import type { ApiError } from "../api/apiError";
import { describeError } from "../api/apiError";
import { useClient } from "../api/ApiProvider";
import { Dialog } from "../components/Dialog";
import { ErrorPanel } from "../components/ErrorPanel";
import { formatMoney } from "../lib/decimal";
import { enumName } from "../lib/enums";
import { statusLabel } from "../lib/orderLabels";
import { contractLabel } from "../state/contracts";
import { closeOrderRequest } from "./closePosition";
import { newClientOrderId } from "./ticket";

export interface ClosePositionDialogProps {
  readonly position: Position;
  /** Why orders cannot be sent now; empty when they can. */
  readonly blocked: readonly string[];
  readonly onClose: () => void;
  /** Called with the order that closes the position once the server took it. */
  readonly onPlaced: (summary: string) => void;
}

export function ClosePositionDialog({ position, blocked, onClose, onPlaced }: ClosePositionDialogProps) {
  const client = useClient(OrderService);
  // One client order id per dialog: confirming twice (a retry after a timeout) cannot close the
  // position twice.
  const [request] = useState<PlaceOrderRequest | undefined>(() => closeOrderRequest(position, newClientOrderId()));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const label = position.contract === undefined ? "" : contractLabel(position.contract);

  async function confirm() {
    if (request === undefined) {
      return;
    }
    setBusy(true);
    try {
      const response = await client.placeOrder(request);
      const order = response.order;
      onPlaced(
        order === undefined
          ? `Close order for ${label} sent`
          : `Close order ${order.orderId} for ${label}: ${statusLabel(order.status)}`,
      );
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
    }
  }

  return (
    <Dialog title={`Close ${label} position`} onClose={onClose} initialFocus={confirmButton} testId="close-position-dialog">
      {request === undefined ? (
        <p className="muted">This position is flat: there is nothing to close.</p>
      ) : (
        <dl className="facts confirm-facts">
          <div className="fact">
            <dt>Order</dt>
            <dd data-testid="close-position-summary">
              {enumName(SideSchema, request.side)} {request.quantity} {label} MARKET DAY
            </dd>
          </div>
          <div className="fact">
            <dt>Account</dt>
            <dd>{position.account}</dd>
          </div>
          <div className="fact">
            <dt>Position</dt>
            <dd>
              {position.quantity} @ avg {position.averageCost}
            </dd>
          </div>
          {position.marketValue !== "" && (
            <div className="fact">
              <dt>Market value</dt>
              <dd>
                {formatMoney(position.marketValue)} {position.currency}
              </dd>
            </div>
          )}
          {position.unrealizedPnl !== "" && (
            <div className="fact">
              <dt>Unrealized PnL</dt>
              <dd>
                {formatMoney(position.unrealizedPnl, true)} {position.currency}
              </dd>
            </div>
          )}
        </dl>
      )}
      {blocked.length > 0 && (
        <div className="ticket-blocked" role="alert" data-testid="close-position-blocked">
          {blocked.map((text) => (
            <div key={text}>{text}</div>
          ))}
        </div>
      )}
      {error !== undefined && <ErrorPanel error={error} command="place" testId="close-position-error" />}
      <div className="dialog-actions">
        <button type="button" onClick={onClose} data-testid="close-position-cancel">
          Back
        </button>
        <button
          ref={confirmButton}
          type="button"
          className="primary sell"
          disabled={busy || request === undefined || blocked.length > 0}
          data-testid="close-position-confirm"
          onClick={() => {
            void confirm();
          }}
        >
          {busy ? "Sending…" : "Close position"}
        </button>
      </div>
    </Dialog>
  );
}
