// The selected order in full: who placed it, its client order id, its status and what that
// status means (a NOT_SENT order says how to send it), its terms, fills and bracket.
import type { Order } from "@ibkr-grpc/client";
import { OrderStatus } from "@ibkr-grpc/client";
import { formatDecimal, formatMoney } from "../lib/decimal";
import { originBadge, orderTerms, statusClass, statusDisplay } from "../lib/orderLabels";
import { formatDateTime } from "../lib/time";
import { contractLabel } from "../state/contracts";

export function OrderDetail({ order }: { readonly order: Order }) {
  const origin = originBadge(order);
  const status = statusDisplay(order.status);
  const clientOrderId =
    order.clientOrderId !== "" ? order.clientOrderId : origin === undefined ? "—" : "none: placed outside this server";
  const rows: [string, string][] = [
    ["Placed by", origin === undefined ? "This server" : origin.description],
    ["Client order id", clientOrderId],
    ["Account", order.account],
    ["Contract", order.contract === undefined ? "" : contractLabel(order.contract)],
    ["Terms", orderTerms(order)],
    ["Status reason", order.statusReason],
    ["Filled", `${formatDecimal(order.filledQuantity, { grouping: true })} of ${formatDecimal(order.quantity, { grouping: true })}`],
    ["Average price", order.averageFillPrice],
    ["Commission", order.commission === "" ? "" : `${formatMoney(order.commission)} ${order.commissionCurrency}`],
    ["Parent", order.parentOrderId],
    ["Bracket legs", order.childOrderIds.join(", ")],
    ["Created", formatDateTime(order.createTime)],
    ["Updated", formatDateTime(order.updateTime)],
  ];
  return (
    <section className="panel panel-wide" aria-label={`Order ${order.orderId}`} data-testid="order-detail">
      <h2>
        <span className="mono">{order.orderId}</span>{" "}
        <span className={`status ${statusClass(order.status)}`} data-testid="order-detail-status">
          {status.label}
        </span>
        {origin !== undefined && (
          <span className="tag origin" title={origin.description} data-testid="order-detail-origin">
            {origin.label}
          </span>
        )}
      </h2>
      {status.hint !== "" && (
        <p
          className={order.status === OrderStatus.NOT_SENT ? "notice notice-warning" : "muted"}
          role={order.status === OrderStatus.NOT_SENT ? "note" : undefined}
          data-testid="order-detail-hint"
        >
          {status.hint}
          {order.status === OrderStatus.NOT_SENT && order.clientOrderId !== "" && (
            <>
              {" "}
              Its client order id: <span className="mono">{order.clientOrderId}</span>.
            </>
          )}
        </p>
      )}
      <dl className="facts">
        {rows.map(([term, value]) => (
          <div key={term} className="fact">
            <dt>{term}</dt>
            <dd data-testid={`order-detail-${term.toLowerCase().replace(/ /g, "-")}`}>{value === "" ? "—" : value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
