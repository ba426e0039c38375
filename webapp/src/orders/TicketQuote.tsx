// The ticket's market: live bid, ask, last and spread of the contract being traded, each price a
// button that copies it into the limit price, and the day's change from the previous close.
import type { Quote } from "@ibkr-grpc/client";
import { TickValue } from "../components/TickValue";
import { formatDecimal, parseDecimal, signClass, subtract, toPlainString } from "../lib/decimal";
import { percentChange } from "../market/change";

export interface TicketQuoteProps {
  readonly symbol: string;
  readonly quote: Quote | undefined;
  readonly problem: string;
  /** Copies a price into the limit price field; undefined when the order type has none. */
  readonly onPickPrice: ((price: string) => void) | undefined;
}

/** ask - bid, exactly; "" when either is unknown. */
export function spreadOf(bid: string, ask: string): string {
  const a = parseDecimal(ask);
  const b = parseDecimal(bid);
  return a === undefined || b === undefined ? "" : toPlainString(subtract(a, b));
}

function Price({ label, value, testId, onPick }: { readonly label: string; readonly value: string; readonly testId: string; readonly onPick: ((price: string) => void) | undefined }) {
  const content = <TickValue value={value} testId={testId} className="num" />;
  return (
    <div className="quote-figure">
      <div className="label">{label}</div>
      {onPick !== undefined && value !== "" ? (
        <button
          type="button"
          className="price-pick"
          title={`Use ${value} as the limit price`}
          aria-label={`Use ${label.toLowerCase()} ${value} as the limit price`}
          onClick={() => {
            onPick(value);
          }}
        >
          {content}
        </button>
      ) : (
        <div className="price-static">{value === "" ? <span className="muted">—</span> : content}</div>
      )}
    </div>
  );
}

export function TicketQuote({ symbol, quote, problem, onPickPrice }: TicketQuoteProps) {
  if (symbol.trim() === "") {
    return (
      <div className="ticket-quote muted" data-testid="ticket-quote">
        Enter a symbol to see its market.
      </div>
    );
  }
  const bid = quote?.bid ?? "";
  const ask = quote?.ask ?? "";
  const last = quote?.last ?? "";
  const spread = spreadOf(bid, ask);
  const change = quote === undefined ? "" : percentChange(quote.last, quote.close);
  return (
    <div className="ticket-quote" data-testid="ticket-quote" aria-label={`Market for ${symbol.toUpperCase()}`}>
      <Price label="Bid" value={bid} testId="ticket-bid" onPick={onPickPrice} />
      <Price label="Ask" value={ask} testId="ticket-ask" onPick={onPickPrice} />
      <Price label="Last" value={last} testId="ticket-last" onPick={onPickPrice} />
      <div className="quote-figure">
        <div className="label">Spread</div>
        <div className="price-static num" data-testid="ticket-spread">
          {spread === "" ? "—" : spread}
        </div>
      </div>
      <div className="quote-figure">
        <div className="label">Change</div>
        <div className={`price-static num ${signClass(change)}`} data-testid="ticket-change">
          {change === "" ? "—" : `${formatDecimal(change, { signed: true })} %`}
        </div>
      </div>
      {problem !== "" && (
        <div className="quote-problem field-error" data-testid="ticket-quote-problem">
          {problem}
        </div>
      )}
      {quote === undefined && problem === "" && <div className="quote-problem muted">Waiting for quotes…</div>}
    </div>
  );
}
