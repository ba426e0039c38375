// Dashboard: the trader's workspace on one screen: a chart, the latest order events, each
// account's PnL and balances, open positions (with Close), working orders (with Cancel) and the
// gateway session, all live.
import type { AccountSummary, OrderEvent, PnL } from "@ibkr-grpc/client";
import { ConnectionStateSchema, SideSchema, TradingModeSchema } from "@ibkr-grpc/client";
import { formatMoney, signClass } from "../lib/decimal";
import { enumName } from "../lib/enums";
import { eventDetail, eventTypeDisplay, originBadge, statusClass, statusLabel } from "../lib/orderLabels";
import { formatDateTime, formatTime } from "../lib/time";
import { contractLabel } from "../state/contracts";
import { ChartPanel, PositionsPanel, WorkingOrdersPanel } from "../dashboard/WorkspacePanels";
import { useGatewayStatus, useOrderBook, usePortfolio } from "../state/LiveData";

const RECENT_ACTIVITY_ROWS = 15;

function GatewayPanel() {
  const status = useGatewayStatus();
  if (status === undefined) {
    return (
      <section className="panel" aria-label="Gateway">
        <h2>Gateway</h2>
        <p className="muted">Waiting for the gateway status…</p>
      </section>
    );
  }
  const rows: [string, string][] = [
    ["State", enumName(ConnectionStateSchema, status.state)],
    ["Trading mode", enumName(TradingModeSchema, status.tradingMode)],
    ["IB Gateway", `${status.host}:${status.port} (client id ${status.clientId})`],
    ["Server version", status.serverVersion === 0 ? "" : String(status.serverVersion)],
    ["Accounts", status.managedAccounts.join(", ")],
    ["State since", formatDateTime(status.stateChangeTime)],
    ["Ready since", formatDateTime(status.readySince)],
    ["Reconnect attempts", String(status.reconnectAttempts)],
    ["Market data lines", `${status.marketDataLinesInUse} / ${status.marketDataLineLimit}`],
    ["Last error", status.lastError === "" ? "" : `${status.lastErrorCode} ${status.lastError}`],
  ];
  return (
    <section className="panel" aria-label="Gateway" data-testid="gateway-panel">
      <h2>Gateway</h2>
      <dl className="facts">
        {rows.map(([term, value]) => (
          <div key={term} className="fact">
            <dt>{term}</dt>
            <dd>{value === "" ? "—" : value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function Money({ value, signed = false }: { readonly value: string; readonly signed?: boolean }) {
  return <span className={`num ${signed ? signClass(value) : ""}`}>{value === "" ? "—" : formatMoney(value, signed)}</span>;
}

function AccountPanel({ summary, pnl }: { readonly summary: AccountSummary | undefined; readonly pnl: PnL | undefined }) {
  const account = summary?.account ?? pnl?.account ?? "";
  const figures: [string, string][] = summary === undefined ? [] : [
    ["Net liquidation", summary.netLiquidation],
    ["Total cash", summary.totalCashValue],
    ["Buying power", summary.buyingPower],
    ["Available funds", summary.availableFunds],
    ["Excess liquidity", summary.excessLiquidity],
    ["Gross position value", summary.grossPositionValue],
    ["Initial margin", summary.initialMarginRequirement],
    ["Maintenance margin", summary.maintenanceMarginRequirement],
  ];
  return (
    <section className="panel" aria-label={`Account ${account}`} data-testid={`account-${account}`}>
      <h2>
        {account} <span className="muted">{summary?.baseCurrency}</span>
      </h2>
      <div className="pnl-strip">
        <div>
          <div className="label">Daily PnL</div>
          <Money value={pnl?.dailyPnl ?? ""} signed />
        </div>
        <div>
          <div className="label">Unrealized</div>
          <Money value={pnl?.unrealizedPnl ?? ""} signed />
        </div>
        <div>
          <div className="label">Realized</div>
          <Money value={pnl?.realizedPnl ?? ""} signed />
        </div>
      </div>
      <dl className="facts">
        {figures.map(([term, value]) => (
          <div key={term} className="fact">
            <dt>{term}</dt>
            <dd>
              <Money value={value} />
            </dd>
          </div>
        ))}
        {summary !== undefined && summary.cushion !== "" && (
          <div className="fact">
            <dt>Cushion</dt>
            <dd className="num">{summary.cushion}</dd>
          </div>
        )}
      </dl>
    </section>
  );
}

function AccountsPanels() {
  const portfolio = usePortfolio();
  const { summaries, pnl } = portfolio.current;
  const accounts = [...new Set([...summaries.keys(), ...pnl.keys()])].sort();
  if (accounts.length === 0) {
    return (
      <section className="panel" aria-label="Accounts">
        <h2>Accounts</h2>
        <p className="muted">{portfolio.snapshotComplete ? "No accounts." : "Loading the portfolio…"}</p>
      </section>
    );
  }
  return (
    <>
      {accounts.map((account) => (
        <AccountPanel key={account} summary={summaries.get(account)} pnl={pnl.get(account)} />
      ))}
    </>
  );
}

function eventSummary(event: OrderEvent): string {
  const order = event.order;
  if (order === undefined) {
    return "";
  }
  const contract = order.contract === undefined ? "" : contractLabel(order.contract);
  return `${enumName(SideSchema, order.side)} ${order.quantity} ${contract}`;
}

function RecentActivity() {
  const { events } = useOrderBook();
  const recent = events.slice(-RECENT_ACTIVITY_ROWS).reverse();
  return (
    <section className="panel" aria-label="Recent activity">
      <h2>Recent activity</h2>
      {recent.length === 0 ? (
        <p className="muted">No order events yet.</p>
      ) : (
        <div className="table-scroll">
        <table className="grid compact" data-testid="recent-activity">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col" className="num col-optional">Seq</th>
              <th scope="col">Event</th>
              <th scope="col">Order</th>
              <th scope="col">Status</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {recent.map((event) => {
              const type = eventTypeDisplay(event.type);
              const origin = event.order === undefined ? undefined : originBadge(event.order);
              const warning = type.tone === "warning";
              return (
                <tr
                  key={event.sequence.toString()}
                  data-testid="activity-row"
                  className={warning ? "activity-warning" : undefined}
                >
                  <td>{formatTime(event.eventTime)}</td>
                  <td className="num col-optional">{event.sequence.toString()}</td>
                  <td data-testid="activity-type" title={type.hint === "" ? undefined : type.hint}>
                    {warning ? <strong>⚠ {type.label}</strong> : type.label}
                  </td>
                  <td>
                    {eventSummary(event)}
                    {origin !== undefined && (
                      <span className="tag origin" title={origin.description}>
                        {origin.label}
                      </span>
                    )}
                  </td>
                  <td>
                    {event.order === undefined ? (
                      ""
                    ) : (
                      <span className={`status ${statusClass(event.order.status)}`}>{statusLabel(event.order.status)}</span>
                    )}
                  </td>
                  <td className={warning ? "" : "muted"} data-testid="activity-detail">
                    {eventDetail(event)}
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

export function DashboardPage() {
  return (
    <div className="dashboard">
      <div className="dashboard-main">
        <ChartPanel />
        <RecentActivity />
      </div>
      <div className="dashboard-side">
        <AccountsPanels />
        <PositionsPanel />
        <WorkingOrdersPanel />
        <GatewayPanel />
      </div>
    </div>
  );
}
