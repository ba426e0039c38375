// Positions, live from StreamPortfolio (stocks, options, futures: the symbol names an option's
// expiry, strike and right; with the multiplier, IB's average cost per contract and the average
// price per unit): sortable by any column, filterable by symbol or account,
// with unrealized, realized and daily PnL (and as percentages), exact per-currency totals, prices
// that flash when they tick, and a Close button that flattens a position after a confirmation.
import type { Position } from "@ibkr-grpc/client";
import { SecurityTypeSchema } from "@ibkr-grpc/client";
import { useState } from "react";
import type { Decimal } from "../lib/decimal";
import { add, compareDecimalStrings, formatDecimal, formatMoney, parseDecimal, signClass, toPlainString } from "../lib/decimal";
import { enumName } from "../lib/enums";
import { contractLabel } from "../state/contracts";
import { TickValue } from "../components/TickValue";
import { PriceChart } from "../market/PriceChart";
import { useClosePosition } from "../orders/useClosePosition";
import { dayPercent, pnlPercent } from "../orders/closePosition";
import { usePortfolio } from "../state/LiveData";
import { positionKey } from "../state/portfolio";

interface Column {
  readonly id: string;
  readonly title: string;
  readonly numeric: boolean;
  readonly value: (position: Position) => string;
  readonly money?: boolean;
  readonly pnl?: boolean;
  readonly percent?: boolean;
  readonly tick?: boolean;
  /** Hidden on narrow screens. */
  readonly optional?: boolean;
}

const COLUMNS: readonly Column[] = [
  { id: "account", title: "Account", numeric: false, optional: true, value: (p) => p.account },
  { id: "symbol", title: "Symbol", numeric: false, value: (p) => (p.contract === undefined ? "" : contractLabel(p.contract)) },
  { id: "type", title: "Type", numeric: false, optional: true, value: (p) => enumName(SecurityTypeSchema, p.contract?.securityType ?? 0) },
  { id: "quantity", title: "Qty", numeric: true, value: (p) => p.quantity },
  // Options x100, futures per contract: market value and PnL are quantity x price x multiplier.
  { id: "multiplier", title: "Mult", numeric: true, value: (p) => p.multiplier },
  // IB's average cost is per contract (the multiplier included); the price per unit compares
  // with the market price.
  { id: "averageCost", title: "Avg cost", numeric: true, optional: true, value: (p) => p.averageCost },
  { id: "averagePrice", title: "Avg price", numeric: true, value: (p) => p.averagePrice },
  { id: "marketPrice", title: "Mkt price", numeric: true, tick: true, value: (p) => p.marketPrice },
  { id: "marketValue", title: "Mkt value", numeric: true, money: true, value: (p) => p.marketValue },
  { id: "unrealizedPnl", title: "Unrealized", numeric: true, money: true, pnl: true, value: (p) => p.unrealizedPnl },
  { id: "realizedPnl", title: "Realized", numeric: true, money: true, pnl: true, value: (p) => p.realizedPnl },
  { id: "dailyPnl", title: "Daily", numeric: true, money: true, pnl: true, value: (p) => p.dailyPnl },
  { id: "currency", title: "Ccy", numeric: false, optional: true, value: (p) => p.currency },
  { id: "pnlPercent", title: "PnL %", numeric: true, pnl: true, percent: true, value: pnlPercent },
  { id: "dayPercent", title: "Day %", numeric: true, pnl: true, percent: true, value: dayPercent },
];

interface SortState {
  readonly column: string;
  readonly descending: boolean;
}

export function sortPositions(positions: readonly Position[], sort: SortState): Position[] {
  const column = COLUMNS.find((candidate) => candidate.id === sort.column) ?? COLUMNS[1];
  if (column === undefined) {
    return [...positions];
  }
  const direction = sort.descending ? -1 : 1;
  return [...positions].sort((left, right) => {
    const a = column.value(left);
    const b = column.value(right);
    const order = column.numeric ? compareDecimalStrings(a, b) : a.localeCompare(b);
    return order * direction;
  });
}

type TotalledFigure = "unrealizedPnl" | "realizedPnl" | "dailyPnl" | "marketValue";

/**
 * Per currency, the exact sum of each figure; "" (unknown) when a position lacks the figure (IB
 * has not reported it yet): a sum of some of the positions is not their total, and must not
 * look like one (0.00 when none is known).
 */
function totalsByCurrency(positions: readonly Position[]): [string, Record<TotalledFigure, string>][] {
  const totals = new Map<string, Record<TotalledFigure, Decimal | undefined>>();
  const zero: Decimal = { units: 0n, scale: 0 };
  for (const position of positions) {
    const current = totals.get(position.currency) ?? { unrealizedPnl: zero, realizedPnl: zero, dailyPnl: zero, marketValue: zero };
    const plus = (sum: Decimal | undefined, text: string) => {
      const value = parseDecimal(text);
      return sum === undefined || value === undefined ? undefined : add(sum, value);
    };
    totals.set(position.currency, {
      unrealizedPnl: plus(current.unrealizedPnl, position.unrealizedPnl),
      realizedPnl: plus(current.realizedPnl, position.realizedPnl),
      dailyPnl: plus(current.dailyPnl, position.dailyPnl),
      marketValue: plus(current.marketValue, position.marketValue),
    });
  }
  const text = (sum: Decimal | undefined) => (sum === undefined ? "" : toPlainString(sum));
  return [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([currency, sums]) => [
    currency,
    {
      unrealizedPnl: text(sums.unrealizedPnl),
      realizedPnl: text(sums.realizedPnl),
      dailyPnl: text(sums.dailyPnl),
      marketValue: text(sums.marketValue),
    },
  ]);
}

function TotalCell({ value, pnl = false }: { readonly value: string; readonly pnl?: boolean }) {
  return <td className={`num ${pnl ? signClass(value) : ""}`}>{value === "" ? "" : formatMoney(value, pnl)}</td>;
}

function cellText(column: Column, value: string): string {
  if (value === "") {
    return "";
  }
  if (column.percent === true) {
    return `${formatDecimal(value, { signed: true })} %`;
  }
  if (column.money === true) {
    return formatMoney(value, column.pnl === true);
  }
  return column.numeric ? formatDecimal(value, { grouping: true }) : value;
}

function Cell({ column, position }: { readonly column: Column; readonly position: Position }) {
  const value = column.value(position);
  const classes = [column.numeric ? "num" : "", column.pnl === true ? signClass(value) : "", column.optional === true ? "col-optional" : ""];
  return (
    <td className={classes.join(" ").trim()} data-column={column.id}>
      {column.tick === true ? <TickValue value={value} format={(text) => cellText(column, text)} /> : cellText(column, value)}
    </td>
  );
}

export function PositionsPage() {
  const portfolio = usePortfolio();
  const closer = useClosePosition();
  const [chartKey, setChartKey] = useState("");
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<SortState>({ column: "symbol", descending: false });
  const needle = filter.trim().toUpperCase();
  const visible = [...portfolio.current.positions.values()].filter((position) => {
    if (needle === "") {
      return true;
    }
    const label = position.contract === undefined ? "" : contractLabel(position.contract).toUpperCase();
    return label.includes(needle) || position.account.toUpperCase().includes(needle);
  });
  const rows = sortPositions(visible, sort);
  const open = rows.filter((position) => signClass(position.quantity) !== "zero");
  const charted = open.find((position) => positionKey(position) === chartKey) ?? open[0];
  const totals = totalsByCurrency(visible);

  return (
    <div className="positions-page">
    <section className="panel panel-wide" aria-label="Positions">
      <div className="panel-head">
        <h2>Positions</h2>
        <input
          type="search"
          placeholder="Filter symbol or account"
          aria-label="Filter positions"
          data-testid="positions-filter"
          value={filter}
          onChange={(event) => {
            setFilter(event.target.value);
          }}
        />
        <span className="muted">{portfolio.snapshotComplete ? `${rows.length} shown` : "loading…"}</span>
      </div>
      {closer.notice !== "" && (
        <div className="notice" role="status" data-testid="positions-notice">
          {closer.notice}
        </div>
      )}
      <div className="table-scroll">
      <table className="grid" data-testid="positions-table">
        <thead>
          <tr>
            {COLUMNS.map((column) => (
              <th
                key={column.id}
                scope="col"
                className={`${column.numeric ? "num" : ""} ${column.optional === true ? "col-optional" : ""}`.trim()}
                aria-sort={sort.column === column.id ? (sort.descending ? "descending" : "ascending") : "none"}
              >
                <button
                  type="button"
                  className="sort"
                  data-testid={`sort-${column.id}`}
                  onClick={() => {
                    setSort({ column: column.id, descending: sort.column === column.id ? !sort.descending : column.numeric });
                  }}
                >
                  {column.title}
                  {sort.column === column.id ? (sort.descending ? " ▼" : " ▲") : ""}
                </button>
              </th>
            ))}
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((position) => {
            const label = position.contract === undefined ? "" : contractLabel(position.contract);
            const flat = signClass(position.quantity) === "zero";
            return (
              <tr
                key={positionKey(position)}
                data-testid="position-row"
                aria-selected={charted !== undefined && positionKey(charted) === positionKey(position)}
                onClick={() => {
                  setChartKey(positionKey(position));
                }}
              >
                {COLUMNS.map((column) => (
                  <Cell key={column.id} column={column} position={position} />
                ))}
                <td className="actions">
                  {!flat && (
                    <button
                      type="button"
                      className="small danger"
                      aria-label={`Close ${label} position in ${position.account}`}
                      data-testid={`close-position-${label}`}
                      onClick={(event) => {
                        event.stopPropagation();
                        closer.start(position);
                      }}
                    >
                      Close
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
        {totals.length > 0 && (
          <tfoot>
            {totals.map(([currency, sums]) => (
              <tr key={currency} data-testid={`positions-total-${currency}`}>
                <th scope="row" colSpan={8} className="total-label">
                  Total {currency}
                </th>
                <TotalCell value={sums.marketValue} />
                <TotalCell value={sums.unrealizedPnl} pnl />
                <TotalCell value={sums.realizedPnl} pnl />
                <TotalCell value={sums.dailyPnl} pnl />
                <td className="col-optional">{currency}</td>
                <td colSpan={3} />
              </tr>
            ))}
          </tfoot>
        )}
      </table>
      </div>
      {closer.dialog}
    </section>
    {charted?.contract !== undefined && (
      <PriceChart
        key={positionKey(charted)}
        contract={{ ...charted.contract, exchange: charted.contract.exchange === "" ? "SMART" : charted.contract.exchange }}
        height={340}
      />
    )}
    </div>
  );
}
