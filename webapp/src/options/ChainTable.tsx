// The calls and puts of one expiration around the money, a row per strike: bid, ask, implied
// volatility and delta of each, the at-the-money strike marked, and Buy/Sell buttons that add the
// option to the spread as a leg.
import type { Contract } from "@ibkr-grpc/client";
import { Side } from "@ibkr-grpc/client";
import { formatDecimal } from "../lib/decimal";
import type { ChainRow, ChainSide } from "./chain";
import { formatDelta, formatVolatility } from "./chain";

export interface ChainTableProps {
  readonly rows: readonly ChainRow[];
  /** Con ids of the legs picked so far, with their sides. */
  readonly picked: ReadonlyMap<bigint, Side>;
  readonly onPick: (contract: Contract, side: Side) => void;
}

type Right = "call" | "put";

/** Option prices with at least two decimals, as IB quotes them. */
const PRICE = { minimumFractionDigits: 2 } as const;

function QuoteCells({ side, right }: { readonly side: ChainSide | undefined; readonly right: Right }) {
  const quote = side?.quote;
  const greeks = quote?.greeks;
  const cells: [string, string][] = [
    ["bid", formatDecimal(quote?.bid ?? "", PRICE)],
    ["ask", formatDecimal(quote?.ask ?? "", PRICE)],
    ["iv", formatVolatility(greeks?.impliedVolatility ?? "")],
    ["delta", formatDelta(greeks?.delta ?? "")],
  ];
  return (
    <>
      {cells.map(([name, text]) => (
        <td key={name} className={`num chain-${name}`} data-testid={`${right}-${name}`} title={side?.problem || undefined}>
          {text}
        </td>
      ))}
    </>
  );
}

function PickButtons(props: {
  readonly side: ChainSide | undefined;
  readonly right: Right;
  readonly strike: string;
  readonly picked: ReadonlyMap<bigint, Side>;
  readonly onPick: (contract: Contract, side: Side) => void;
}) {
  const { side, right, strike, picked, onPick } = props;
  if (side === undefined) {
    return <td className="chain-pick" />;
  }
  const current = picked.get(side.contract.conId);
  return (
    <td className="chain-pick">
      {[Side.BUY, Side.SELL].map((pickSide) => {
        const word = pickSide === Side.BUY ? "buy" : "sell";
        return (
          <button
            key={word}
            type="button"
            className={`small leg-${word}${current === pickSide ? " leg-picked" : ""}`}
            aria-pressed={current === pickSide}
            aria-label={`${pickSide === Side.BUY ? "Buy" : "Sell"} the ${strike} ${right}`}
            data-testid={`leg-${word}-${right}-${strike}`}
            onClick={() => {
              onPick(side.contract, pickSide);
            }}
          >
            {pickSide === Side.BUY ? "B" : "S"}
          </button>
        );
      })}
    </td>
  );
}

export function ChainTable({ rows, picked, onPick }: ChainTableProps) {
  return (
    <div className="table-scroll">
      <table className="grid chain-table" data-testid="chain-table">
        <thead>
          <tr>
            <th scope="colgroup" colSpan={5}>
              Calls
            </th>
            <th scope="col" />
            <th scope="colgroup" colSpan={5}>
              Puts
            </th>
          </tr>
          <tr>
            <th scope="col">Leg</th>
            <th scope="col" className="num">Bid</th>
            <th scope="col" className="num">Ask</th>
            <th scope="col" className="num">IV</th>
            <th scope="col" className="num">Delta</th>
            <th scope="col" className="num">Strike</th>
            <th scope="col" className="num">Bid</th>
            <th scope="col" className="num">Ask</th>
            <th scope="col" className="num">IV</th>
            <th scope="col" className="num">Delta</th>
            <th scope="col">Leg</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr
              key={row.strike}
              className={row.atTheMoney ? "chain-atm" : undefined}
              data-testid={`chain-row-${row.strike}`}
              data-atm={row.atTheMoney ? "true" : undefined}
            >
              <PickButtons side={row.call} right="call" strike={row.strike} picked={picked} onPick={onPick} />
              <QuoteCells side={row.call} right="call" />
              <th scope="row" className="num chain-strike" data-testid="chain-strike">
                {formatDecimal(row.strike)}
              </th>
              <QuoteCells side={row.put} right="put" />
              <PickButtons side={row.put} right="put" strike={row.strike} picked={picked} onPick={onPick} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
