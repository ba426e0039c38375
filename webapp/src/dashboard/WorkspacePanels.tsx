// The dashboard's trading panels: open positions (with Close), working orders (with Cancel) and
// a chart of a chosen symbol, compact enough to sit side by side with the accounts and the
// activity log.
import type { Contract, Order, Position } from "@ibkr-grpc/client";
import { OrderService } from "@ibkr-grpc/client";
import { useState } from "react";
import type { ApiError } from "../api/apiError";
import { describeError } from "../api/apiError";
import { useClient } from "../api/ApiProvider";
import { ErrorPanel } from "../components/ErrorPanel";
import { TickValue } from "../components/TickValue";
import { formatDecimal, formatMoney, signClass } from "../lib/decimal";
import { orderTerms, shortId, statusClass, statusLabel } from "../lib/orderLabels";
import { PriceChart } from "../market/PriceChart";
import { useClosePosition } from "../orders/useClosePosition";
import { pnlPercent } from "../orders/closePosition";
import { contractKey, contractLabel } from "../state/contracts";
import { useOrderBook, usePortfolio, useWatchlist } from "../state/LiveData";
import { isWorking, sortedOrders } from "../state/orderBook";
import { positionKey } from "../state/portfolio";

function openPositions(positions: Iterable<Position>): Position[] {
  return [...positions]
    .filter((position) => signClass(position.quantity) !== "zero")
    .sort((a, b) => (a.contract === undefined || b.contract === undefined ? 0 : contractLabel(a.contract).localeCompare(contractLabel(b.contract))));
}

export function PositionsPanel() {
  const portfolio = usePortfolio();
  const closer = useClosePosition();
  const positions = openPositions(portfolio.current.positions.values());
  return (
    <section className="panel" aria-label="Open positions" data-testid="dashboard-positions">
      <h2>Positions</h2>
      {closer.notice !== "" && (
        <div className="notice" role="status" data-testid="dashboard-positions-notice">
          {closer.notice}
        </div>
      )}
      {positions.length === 0 ? (
        <p className="muted">{portfolio.snapshotComplete ? "No open positions." : "Loading the portfolio…"}</p>
      ) : (
        <div className="table-scroll">
          <table className="grid compact">
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col" className="num">Qty</th>
                <th scope="col" className="num">Avg</th>
                <th scope="col" className="num">Last</th>
                <th scope="col" className="num">Unrealized</th>
                <th scope="col" className="num">PnL %</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {positions.map((position) => {
                const label = position.contract === undefined ? "" : contractLabel(position.contract);
                const percent = pnlPercent(position);
                return (
                  <tr key={positionKey(position)} data-testid="dashboard-position-row">
                    <th scope="row" title={position.account}>
                      {label}
                    </th>
                    <td className={`num ${signClass(position.quantity)}`}>{formatDecimal(position.quantity, { grouping: true })}</td>
                    <td className="num">{position.averageCost}</td>
                    <td className="num">
                      <TickValue value={position.marketPrice} />
                    </td>
                    <td className={`num ${signClass(position.unrealizedPnl)}`}>
                      {position.unrealizedPnl === "" ? "" : formatMoney(position.unrealizedPnl, true)}
                    </td>
                    <td className={`num ${signClass(percent)}`}>{percent === "" ? "" : `${formatDecimal(percent, { signed: true })} %`}</td>
                    <td className="actions">
                      <button
                        type="button"
                        className="small danger"
                        aria-label={`Close ${label} position in ${position.account}`}
                        onClick={() => {
                          closer.start(position);
                        }}
                      >
                        Close
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {closer.dialog}
    </section>
  );
}

export function WorkingOrdersPanel() {
  const client = useClient(OrderService);
  const { orders } = useOrderBook();
  const [busy, setBusy] = useState("");
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const working = sortedOrders(orders).filter(isWorking);

  async function cancel(order: Order) {
    setBusy(order.orderId);
    setError(undefined);
    try {
      await client.cancelOrder({ orderId: order.orderId });
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy("");
    }
  }

  return (
    <section className="panel" aria-label="Working orders" data-testid="dashboard-working-orders">
      <h2>Working orders</h2>
      {error !== undefined && <ErrorPanel error={error} command="cancel" testId="dashboard-cancel-error" />}
      {working.length === 0 ? (
        <p className="muted">No working orders.</p>
      ) : (
        <div className="table-scroll">
          <table className="grid compact">
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col">Order</th>
                <th scope="col" className="num">Filled</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {working.map((order) => {
                const label = order.contract === undefined ? "" : contractLabel(order.contract);
                return (
                  <tr key={order.orderId} data-testid="dashboard-order-row">
                    <th scope="row" title={order.orderId}>
                      {label} <span className="muted mono">{shortId(order.orderId)}</span>
                    </th>
                    <td>{orderTerms(order)}</td>
                    <td className="num">
                      {formatDecimal(order.filledQuantity, { grouping: true })}/{formatDecimal(order.quantity, { grouping: true })}
                    </td>
                    <td>
                      <span className={`status ${statusClass(order.status)}`}>{statusLabel(order.status)}</span>
                    </td>
                    <td className="actions">
                      <button
                        type="button"
                        className="small danger"
                        disabled={busy === order.orderId}
                        aria-label={`Cancel order ${order.orderId}`}
                        onClick={() => {
                          void cancel(order);
                        }}
                      >
                        Cancel
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** The chart of a symbol picked from the positions and the watchlist. */
export function ChartPanel() {
  const portfolio = usePortfolio();
  const { contracts: watched } = useWatchlist();
  const candidates: Contract[] = [];
  // The watchlist's contracts first: they are the ones quoted already.
  for (const contract of [
    ...watched,
    ...openPositions(portfolio.current.positions.values()).flatMap((position) => (position.contract === undefined ? [] : [position.contract])),
  ]) {
    if (!candidates.some((existing) => contractLabel(existing) === contractLabel(contract))) {
      candidates.push(contract);
    }
  }
  const [chosen, setChosen] = useState("");
  const selected = candidates.find((contract) => contractLabel(contract) === chosen) ?? candidates[0];
  if (selected === undefined) {
    return (
      <section className="panel" aria-label="Chart">
        <h2>Chart</h2>
        <p className="muted">Add a symbol to the watchlist to chart it.</p>
      </section>
    );
  }
  return (
    <div className="chart-with-picker">
      <div className="symbol-chips" role="group" aria-label="Chart symbol">
        {candidates.map((contract) => (
          <button
            key={contractKey(contract)}
            type="button"
            className="small"
            aria-pressed={contract === selected}
            onClick={() => {
              setChosen(contractLabel(contract));
            }}
          >
            {contractLabel(contract)}
          </button>
        ))}
      </div>
      <PriceChart key={contractLabel(selected)} contract={selected} height={360} />
    </div>
  );
}
