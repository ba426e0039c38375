// Orders blotter, live from StreamOrderEvents (the book resumes after the last sequence on every
// reconnect), with cancel and modify actions, and the fills with their commissions.
import type { ModifyOrderRequest, Order } from "@ibkr-grpc/client";
import {
  BracketRole,
  BracketRoleSchema,
  OrderService,
  OrderStatusSchema,
  OrderTypeSchema,
  SideSchema,
  TimeInForceSchema,
} from "@ibkr-grpc/client";
import type { KeyboardEvent } from "react";
import { useRef, useState } from "react";
import type { ApiError } from "../api/apiError";
import { describeError } from "../api/apiError";
import { useClient } from "../api/ApiProvider";
import type { OrderCommand } from "../api/errorReasons";
import { Dialog } from "../components/Dialog";
import { ErrorPanel } from "../components/ErrorPanel";
import { costClass, formatDecimal, formatMoney, signClass } from "../lib/decimal";
import { enumName } from "../lib/enums";
import { originBadge, statusClass, statusDisplay, shortId } from "../lib/orderLabels";
import { formatTime } from "../lib/time";
import { ModifyOrderDialog } from "../orders/ModifyOrderDialog";
import { modifyOutcome } from "../orders/modifyOrder";
import { OrderDetail } from "../orders/OrderDetail";
import { contractLabel } from "../state/contracts";
import { useOrderBook, useRecordOrders } from "../state/LiveData";
import { isWorking, sortedFills, sortedOrders } from "../state/orderBook";

type OrderFilter = "all" | "working" | "done";

function OrderRow({
  order,
  busy,
  active,
  onCancel,
  onModify,
  onSelect,
}: {
  readonly order: Order;
  readonly busy: boolean;
  /** The row the arrow keys are on: the one row in the tab order (roving tabindex). */
  readonly active: boolean;
  readonly onCancel: (order: Order) => void;
  readonly onModify: (order: Order) => void;
  readonly onSelect: (order: Order) => void;
}) {
  const working = isWorking(order);
  const status = statusDisplay(order.status);
  const origin = originBadge(order);
  const role = order.bracketRole === BracketRole.UNSPECIFIED ? "" : enumName(BracketRoleSchema, order.bracketRole);
  return (
    <tr
      data-testid={`order-row-${order.orderId}`}
      data-order-id={order.orderId}
      data-status={enumName(OrderStatusSchema, order.status)}
      className={working ? "working" : "done"}
      tabIndex={active ? 0 : -1}
      aria-selected={active}
      onClick={() => {
        onSelect(order);
      }}
    >
      <td>{formatTime(order.createTime)}</td>
      <td className="mono order-id" title={order.orderId}>
        {shortId(order.orderId)}
        {role === "" ? "" : <span className="tag">{role.replace("_", " ")}</span>}
        {origin !== undefined && (
          <span className="tag origin" title={origin.description} data-testid="order-origin">
            {origin.label}
          </span>
        )}
      </td>
      <td>{order.contract === undefined ? "" : contractLabel(order.contract)}</td>
      <td className={`side-${enumName(SideSchema, order.side).toLowerCase()}`}>{enumName(SideSchema, order.side)}</td>
      <td>{enumName(OrderTypeSchema, order.orderType)}</td>
      <td className="num">{formatDecimal(order.quantity, { grouping: true })}</td>
      <td className="num">{formatDecimal(order.filledQuantity, { grouping: true })}</td>
      <td className="num">{order.limitPrice}</td>
      <td className="num">{order.stopPrice}</td>
      <td className="num">{order.trailingAmount !== "" ? order.trailingAmount : order.trailingPercent === "" ? "" : `${order.trailingPercent} %`}</td>
      <td className="num">{order.averageFillPrice}</td>
      <td>{enumName(TimeInForceSchema, order.timeInForce)}</td>
      <td data-testid="order-status" title={status.hint === "" ? undefined : status.hint}>
        <span className={`status ${statusClass(order.status)}`}>{status.label}</span>
      </td>
      <td className="muted reason">{order.statusReason}</td>
      <td className="actions">
        {working && (
          <>
            <button
              type="button"
              className="small"
              disabled={busy}
              aria-label={`Modify order ${order.orderId}`}
              data-testid={`modify-${order.orderId}`}
              onClick={() => {
                onModify(order);
              }}
            >
              Modify
            </button>
            <button
              type="button"
              className="small danger"
              disabled={busy}
              aria-label={`Cancel order ${order.orderId}`}
              data-testid={`cancel-${order.orderId}`}
              onClick={() => {
                onCancel(order);
              }}
            >
              Cancel
            </button>
          </>
        )}
      </td>
    </tr>
  );
}

function CancelAllDialog({
  count,
  onConfirm,
  onClose,
}: {
  readonly count: number;
  readonly onConfirm: () => void;
  readonly onClose: () => void;
}) {
  const confirmButton = useRef<HTMLButtonElement>(null);
  return (
    <Dialog title="Cancel all working orders?" onClose={onClose} initialFocus={confirmButton} testId="cancel-all-dialog">
      <p>
        Asks IB to cancel every working order ({count} shown here), in every account this token may trade.
      </p>
      <div className="dialog-actions">
        <button type="button" onClick={onClose} data-testid="cancel-all-back">
          Back
        </button>
        <button ref={confirmButton} type="button" className="primary sell" onClick={onConfirm} data-testid="cancel-all-confirm">
          Cancel all
        </button>
      </div>
    </Dialog>
  );
}

function FillsTable() {
  const { fills } = useOrderBook();
  const rows = sortedFills(fills);
  return (
    <section className="panel panel-wide" aria-label="Fills">
      <h2>Fills</h2>
      {rows.length === 0 ? (
        <p className="muted">No fills.</p>
      ) : (
        <div className="table-scroll">
        <table className="grid" data-testid="fills-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Execution</th>
              <th scope="col">Order</th>
              <th scope="col">Symbol</th>
              <th scope="col">Side</th>
              <th scope="col" className="num">Qty</th>
              <th scope="col" className="num">Price</th>
              <th scope="col" className="num">Commission</th>
              <th scope="col" className="num">Realized PnL</th>
              <th scope="col" className="num">Slippage</th>
              <th scope="col">Exchange</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((fill) => (
              <tr key={fill.executionId} data-testid={`fill-row-${fill.executionId}`}>
                <td>{formatTime(fill.executionTime)}</td>
                <td className="mono">{fill.executionId}</td>
                <td className="mono" title={fill.orderId}>{shortId(fill.orderId)}</td>
                <td>{fill.contract === undefined ? "" : contractLabel(fill.contract)}</td>
                <td>{enumName(SideSchema, fill.side)}</td>
                <td className="num">{formatDecimal(fill.quantity, { grouping: true })}</td>
                <td className="num">{fill.price}</td>
                <td className="num" data-testid="fill-commission">
                  {fill.commission === "" ? "pending" : `${formatMoney(fill.commission)} ${fill.commissionCurrency}`}
                </td>
                <td className={`num ${signClass(fill.realizedPnl)}`}>{fill.realizedPnl === "" ? "" : formatMoney(fill.realizedPnl, true)}</td>
                <td
                  className={`num ${costClass(fill.slippage)}`}
                  data-testid="fill-slippage"
                  title="Per unit against the arrival price; positive is worse for you"
                >
                  {fill.slippage}
                </td>
                <td>{fill.exchange}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}

export function OrdersPage() {
  const client = useClient(OrderService);
  const book = useOrderBook();
  const recordOrders = useRecordOrders();
  const [filter, setFilter] = useState<OrderFilter>("all");
  const [busyOrderId, setBusyOrderId] = useState("");
  const [actionError, setActionError] = useState<{ error: ApiError; command: OrderCommand | undefined } | undefined>(undefined);
  const [modifying, setModifying] = useState<Order | undefined>(undefined);
  const [modifyError, setModifyError] = useState<ApiError | undefined>(undefined);
  const [confirmingCancelAll, setConfirmingCancelAll] = useState(false);
  const [notice, setNotice] = useState("");
  const [activeOrderId, setActiveOrderId] = useState("");

  const workingCount = [...book.orders.values()].filter(isWorking).length;
  const orders = sortedOrders(book.orders).filter((order) =>
    filter === "all" ? true : filter === "working" ? isWorking(order) : !isWorking(order),
  );

  // The detail shows the row the arrow keys (or a click) are on: the first row until then.
  const selected = orders.find((candidate) => candidate.orderId === activeOrderId) ?? orders[0];

  async function cancel(order: Order) {
    setBusyOrderId(order.orderId);
    setActionError(undefined);
    setNotice("");
    try {
      await client.cancelOrder({ orderId: order.orderId });
    } catch (error) {
      setActionError({ error: describeError(error), command: "cancel" });
    } finally {
      setBusyOrderId("");
    }
  }

  // Keyboard on the blotter: arrows (or J/K) move between rows, M modifies and Delete cancels
  // the working order of the focused row.
  function onRowKeyDown(event: KeyboardEvent<HTMLTableSectionElement>) {
    const row = event.target instanceof HTMLElement ? event.target.closest("tr") : null;
    if (row === null || row !== event.target) {
      return;
    }
    const order = book.orders.get(row.dataset["orderId"] ?? "");
    const key = event.key.toLowerCase();
    if (key === "arrowdown" || key === "arrowup" || key === "j" || key === "k") {
      event.preventDefault();
      const next = key === "arrowdown" || key === "j" ? row.nextElementSibling : row.previousElementSibling;
      if (next instanceof HTMLTableRowElement) {
        setActiveOrderId(next.dataset["orderId"] ?? "");
        next.focus();
      }
    } else if (order !== undefined && isWorking(order) && key === "m") {
      event.preventDefault();
      setModifyError(undefined);
      setModifying(order);
    } else if (order !== undefined && isWorking(order) && key === "delete") {
      event.preventDefault();
      void cancel(order);
    }
  }

  async function cancelAll() {
    setConfirmingCancelAll(false);
    setActionError(undefined);
    try {
      const response = await client.cancelAllOrders({});
      setNotice(`Cancel requested for ${response.orders.length} orders.`);
    } catch (error) {
      setActionError({ error: describeError(error), command: undefined });
    }
  }

  async function modify(request: ModifyOrderRequest) {
    setBusyOrderId(request.orderId);
    setNotice("");
    try {
      // ModifyOrder answers on IB's confirmation: the order it returns carries the new terms,
      // shown now rather than when the MODIFIED event arrives.
      const response = await client.modifyOrder(request);
      setModifying(undefined);
      setModifyError(undefined);
      if (response.order !== undefined) {
        recordOrders([response.order]);
        setNotice(modifyOutcome(request, response.order).text);
      }
    } catch (error) {
      setModifyError(describeError(error));
    } finally {
      setBusyOrderId("");
    }
  }

  return (
    <div className="orders-page">
      <section className="panel panel-wide" aria-label="Orders">
        <div className="panel-head">
          <h2>Orders</h2>
          <div className="segmented" role="group" aria-label="Show">
            {(["all", "working", "done"] as const).map((value) => (
              <button
                key={value}
                type="button"
                aria-pressed={filter === value}
                data-testid={`orders-filter-${value}`}
                onClick={() => {
                  setFilter(value);
                }}
              >
                {value}
              </button>
            ))}
          </div>
          <button
            type="button"
            className="small danger"
            data-testid="orders-cancel-all"
            disabled={workingCount === 0}
            onClick={() => {
              setNotice("");
              setConfirmingCancelAll(true);
            }}
          >
            Cancel all working
          </button>
          <span className="muted col-optional">↑↓ select · M modify · Del cancel</span>
          <span className="muted" data-testid="orders-last-sequence">
            seq {book.lastSequence.toString()}
            {book.replayComplete ? "" : " (replaying)"}
          </span>
        </div>
        {book.snapshotError !== "" && <div className="field-error">Could not load orders: {book.snapshotError}</div>}
        {actionError !== undefined && (
          <ErrorPanel
            error={actionError.error}
            command={actionError.command}
            testId="orders-action-error"
          />
        )}
        {notice !== "" && (
          <div className="muted" role="status" data-testid="orders-notice">
            {notice}
          </div>
        )}
        {orders.length === 0 ? (
          <p className="muted">No orders.</p>
        ) : (
          <div className="table-scroll">
          <table className="grid blotter" data-testid="orders-table">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Order</th>
                <th scope="col">Symbol</th>
                <th scope="col">Side</th>
                <th scope="col">Type</th>
                <th scope="col" className="num">Qty</th>
                <th scope="col" className="num">Filled</th>
                <th scope="col" className="num">Limit</th>
                <th scope="col" className="num">Stop</th>
                <th scope="col" className="num">Trail</th>
                <th scope="col" className="num">Avg</th>
                <th scope="col">TIF</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody onKeyDown={onRowKeyDown}>
              {orders.map((order) => (
                <OrderRow
                  key={order.orderId}
                  order={order}
                  active={order.orderId === selected?.orderId}
                  busy={busyOrderId === order.orderId}
                  onCancel={(target) => {
                    void cancel(target);
                  }}
                  onModify={(target) => {
                    setModifyError(undefined);
                    setModifying(target);
                  }}
                  onSelect={(target) => {
                    setActiveOrderId(target.orderId);
                  }}
                />
              ))}
            </tbody>
          </table>
          </div>
        )}
      </section>
      {selected !== undefined && <OrderDetail order={selected} />}
      <FillsTable />
      {confirmingCancelAll && (
        <CancelAllDialog
          count={workingCount}
          onConfirm={() => {
            void cancelAll();
          }}
          onClose={() => {
            setConfirmingCancelAll(false);
          }}
        />
      )}
      {modifying !== undefined && (
        <ModifyOrderDialog
          order={book.orders.get(modifying.orderId) ?? modifying}
          submitting={busyOrderId === modifying.orderId}
          serverError={modifyError}
          onSubmit={(request) => {
            void modify(request);
          }}
          onCancel={() => {
            setModifying(undefined);
          }}
        />
      )}
    </div>
  );
}
