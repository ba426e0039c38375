// Positions, live from StreamPortfolio: sortable by any column, filterable by symbol or account,
// with unrealized, realized and daily PnL and exact per-currency totals.
import type { Position } from "@ibkr-grpc/client";
import { SecurityTypeSchema } from "@ibkr-grpc/client";
import { useState } from "react";
import type { Decimal } from "../lib/decimal";
import { add, compareDecimalStrings, formatDecimal, formatMoney, parseDecimal, signClass, toPlainString } from "../lib/decimal";
import { enumName } from "../lib/enums";
import { contractLabel } from "../state/contracts";
import { usePortfolio } from "../state/LiveData";
import { positionKey } from "../state/portfolio";

interface Column {
  readonly id: string;
  readonly title: string;
  readonly numeric: boolean;
  readonly value: (position: Position) => string;
  readonly money?: boolean;
  readonly pnl?: boolean;
}

const COLUMNS: readonly Column[] = [
  { id: "account", title: "Account", numeric: false, value: (p) => p.account },
  { id: "symbol", title: "Symbol", numeric: false, value: (p) => (p.contract === undefined ? "" : contractLabel(p.contract)) },
  { id: "type", title: "Type", numeric: false, value: (p) => enumName(SecurityTypeSchema, p.contract?.securityType ?? 0) },
  { id: "quantity", title: "Qty", numeric: true, value: (p) => p.quantity },
  { id: "averageCost", title: "Avg cost", numeric: true, value: (p) => p.averageCost },
  { id: "marketPrice", title: "Mkt price", numeric: true, value: (p) => p.marketPrice },
  { id: "marketValue", title: "Mkt value", numeric: true, money: true, value: (p) => p.marketValue },
  { id: "unrealizedPnl", title: "Unrealized", numeric: true, money: true, pnl: true, value: (p) => p.unrealizedPnl },
  { id: "realizedPnl", title: "Realized", numeric: true, money: true, pnl: true, value: (p) => p.realizedPnl },
  { id: "dailyPnl", title: "Daily", numeric: true, money: true, pnl: true, value: (p) => p.dailyPnl },
  { id: "currency", title: "Ccy", numeric: false, value: (p) => p.currency },
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

function Cell({ column, position }: { readonly column: Column; readonly position: Position }) {
  const value = column.value(position);
  const text = column.money === true ? (value === "" ? "" : formatMoney(value, column.pnl === true)) : column.numeric ? formatDecimal(value, { grouping: true }) : value;
  return <td className={column.numeric ? `num ${column.pnl === true ? signClass(value) : ""}` : ""}>{text}</td>;
}

export function PositionsPage() {
  const portfolio = usePortfolio();
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
  const totals = totalsByCurrency(visible);

  return (
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
      <table className="grid" data-testid="positions-table">
        <thead>
          <tr>
            {COLUMNS.map((column) => (
              <th
                key={column.id}
                scope="col"
                className={column.numeric ? "num" : ""}
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
          </tr>
        </thead>
        <tbody>
          {rows.map((position) => (
            <tr key={positionKey(position)} data-testid="position-row">
              {COLUMNS.map((column) => (
                <Cell key={column.id} column={column} position={position} />
              ))}
            </tr>
          ))}
        </tbody>
        {totals.length > 0 && (
          <tfoot>
            {totals.map(([currency, sums]) => (
              <tr key={currency} data-testid={`positions-total-${currency}`}>
                <th scope="row" colSpan={6}>
                  Total {currency}
                </th>
                <TotalCell value={sums.marketValue} />
                <TotalCell value={sums.unrealizedPnl} pnl />
                <TotalCell value={sums.realizedPnl} pnl />
                <TotalCell value={sums.dailyPnl} pnl />
                <td>{currency}</td>
              </tr>
            ))}
          </tfoot>
        )}
      </table>
    </section>
  );
}
