// The spread ticket: the legs picked in the chain (side, ratio), the combination's net price from
// their quotes (mid and natural), its largest profit and loss at expiry at the limit price, the
// quantity and the signed limit net price (debit or credit, said in words), a confirmation, and
// one PlaceOrder with the legs. The request is checked against the contract's PlaceOrder rules
// first (spreadOrder.ts), its violations shown at the inputs as on the order ticket. A retry of the same spread reuses its client order id until IB
// has the order, as the order ticket does; failures show with the error catalogue's words.
import type { Contract, PlaceOrderRequest, PlaceOrderResponse, Quote } from "@ibkr-grpc/client";
import { OrderService, OrderStatus, Side } from "@ibkr-grpc/client";
import type { SyntheticEvent } from "react";
import { useRef, useState } from "react";
import type { ApiError } from "../api/apiError";
import { describeError } from "../api/apiError";
import { useClient } from "../api/ApiProvider";
import { Dialog } from "../components/Dialog";
import { ErrorPanel } from "../components/ErrorPanel";
import { formatDecimal, formatMoney, multiply, parseDecimal, sign, toPlainString } from "../lib/decimal";
import { statusLabel } from "../lib/orderLabels";
import { newClientOrderId } from "../orders/ticket";
import { Field } from "../orders/TicketFields";
import { violationsByField } from "../orders/validation";
import { contractLabel } from "../state/contracts";
import { useGatewayStatus, useTradingBlockers } from "../state/LiveData";
import { blockersForAccount } from "../trading/availability";
import type { PayoffFigure, SpreadLeg } from "./spreadMath";
import { describeNetPrice, netPrices, payoffRange, roundDecimal } from "./spreadMath";
import { toSpreadOrderRequest, validateSpread } from "./spreadOrder";

/** The price increment of US stock options: the net prices offered are rounded to it. */
const PRICE_PLACES = 2;
const PRICE = { minimumFractionDigits: PRICE_PLACES } as const;

export interface SpreadTicketProps {
  readonly legs: readonly SpreadLeg[];
  readonly onLegsChange: (legs: SpreadLeg[]) => void;
  /** The newest quote of a leg's contract, if the chain has one. */
  readonly quoteOf: (contract: Contract) => Quote | undefined;
  readonly currency: string;
}

function isUnacknowledged(status: OrderStatus | undefined): boolean {
  return status === OrderStatus.PENDING_SUBMIT || status === OrderStatus.NOT_SENT;
}

function figureText(figure: PayoffFigure, currency: string): string {
  return figure.kind === "unbounded" ? "unbounded" : `${formatMoney(figure.value)} ${currency}`;
}

/** What the limit means in money: "Credit 1.2 per unit: receive at least 120.00 USD a combination". */
export function limitMeaning(limitPrice: string, multiplier: string, currency: string): string {
  const price = parseDecimal(limitPrice);
  if (price === undefined) {
    return "Positive: you pay (a debit). Negative: you receive (a credit).";
  }
  const magnitude = { units: price.units < 0n ? -price.units : price.units, scale: price.scale };
  const perCombination = toPlainString(multiply(magnitude, parseDecimal(multiplier) ?? { units: 1n, scale: 0 }));
  const money = `${formatMoney(perCombination)} ${currency}`;
  const words = sign(price) < 0 ? `receive at least ${money}` : sign(price) > 0 ? `pay at most ${money}` : "pay nothing";
  return `${describeNetPrice(limitPrice)} per unit: ${words} a combination`;
}

/** The request without its idempotency key, as text: what a retry of the same spread matches. */
function requestKey(request: PlaceOrderRequest): string {
  return JSON.stringify(request, (_, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}

/** A violation under the input it is about: the first of `field` or of a field inside it. */
function FieldError({ field, errors }: { readonly field: string; readonly errors: ReadonlyMap<string, string> }) {
  const found = [...errors].find(([path]) => path === field || path.startsWith(`${field}.`));
  return found === undefined ? null : (
    <div className="field-error" data-testid={`error-${field}`}>
      {found[1]}
    </div>
  );
}

function legSummary(legs: readonly SpreadLeg[]): string {
  return legs
    .map((leg) => `${leg.side === Side.BUY ? "+" : "-"}${leg.ratio} ${contractLabel(leg.contract)}`)
    .join(", ");
}

export function SpreadTicket({ legs, onLegsChange, quoteOf, currency }: SpreadTicketProps) {
  const client = useClient(OrderService);
  const managedAccounts = useGatewayStatus()?.managedAccounts ?? [];
  const [account, setAccount] = useState("");
  const [quantity, setQuantity] = useState("1");
  const [limitPrice, setLimitPrice] = useState("");
  const [showProblems, setShowProblems] = useState(false);
  const [pending, setPending] = useState<PlaceOrderRequest | undefined>(undefined);
  const [submitting, setSubmitting] = useState(false);
  const [result, setResult] = useState<PlaceOrderResponse | undefined>(undefined);
  const [serverError, setServerError] = useState<{ error: ApiError; formKey: string } | undefined>(undefined);
  // The idempotency key of the spread as it stands: reused when the same spread is retried, new
  // once it changes or IB has the order (AIP-155), as on the order ticket.
  const idempotency = useRef<{ key: string; clientOrderId: string } | undefined>(undefined);
  const confirmButton = useRef<HTMLButtonElement>(null);

  const form = { account, legs, quantity, limitPrice };
  const quotes = legs.map((leg) => quoteOf(leg.contract));
  const prices = netPrices(legs, quotes.map((quote) => ({ bid: quote?.bid ?? "", ask: quote?.ask ?? "" })));
  // At the limit price once one is typed, else at the mid.
  const payoffPrice = parseDecimal(limitPrice.trim()) === undefined ? prices.mid : limitPrice.trim();
  const payoff = payoffRange(legs, payoffPrice, quantity.trim());
  const violations = validateSpread(form, { managedAccounts });
  const blockers = blockersForAccount(useTradingBlockers(), account, managedAccounts);
  const formKey = requestKey(toSpreadOrderRequest(form, ""));
  const errors = new Map(showProblems ? violationsByField(violations) : []);
  // The server's field violations mark the inputs until the spread is edited; the error panel
  // stays until the next attempt.
  if (serverError !== undefined && serverError.formKey === formKey) {
    serverError.error.fieldViolations.forEach((violation) => {
      if (!errors.has(violation.field)) {
        errors.set(violation.field, violation.description);
      }
    });
  }

  function changeLeg(index: number, patch: Partial<SpreadLeg>) {
    onLegsChange(legs.map((leg, at) => (at === index ? { ...leg, ...patch } : leg)));
    setResult(undefined);
  }

  function review(event: SyntheticEvent) {
    event.preventDefault();
    setShowProblems(true);
    if (violations.length > 0 || blockers.length > 0) {
      return;
    }
    if (idempotency.current?.key !== formKey) {
      idempotency.current = { key: formKey, clientOrderId: newClientOrderId() };
    }
    setPending(toSpreadOrderRequest(form, idempotency.current.clientOrderId));
  }

  async function confirm(request: PlaceOrderRequest) {
    const sentKey = formKey;
    setSubmitting(true);
    try {
      const response = await client.placeOrder(request);
      setResult(response);
      setServerError(undefined);
      if (!isUnacknowledged(response.order?.status)) {
        idempotency.current = undefined;
      }
    } catch (error) {
      setServerError({ error: describeError(error), formKey: sentKey });
      setResult(undefined);
    } finally {
      setSubmitting(false);
      setPending(undefined);
    }
  }

  return (
    <form className="panel spread-ticket" aria-label="Spread ticket" data-testid="spread-ticket" onSubmit={review} noValidate>
      <h2>Spread ticket</h2>
      {legs.length === 0 ? (
        <p className="muted">Pick legs in the chain: B buys, S sells the option when the spread is bought.</p>
      ) : (
        <div className="table-scroll">
          <table className="grid spread-legs">
            <thead>
              <tr>
                <th scope="col">Side</th>
                <th scope="col">Ratio</th>
                <th scope="col">Option</th>
                <th scope="col" className="num">Bid</th>
                <th scope="col" className="num">Ask</th>
                <th scope="col">
                  <span className="visually-hidden">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {legs.map((leg, index) => {
                const label = contractLabel(leg.contract);
                return (
                  <tr key={leg.contract.conId.toString()} data-testid="spread-leg">
                    <td>
                      <select
                        aria-label={`Side of ${label}`}
                        aria-invalid={errors.has(`legs[${String(index)}].side`)}
                        data-testid="spread-leg-side"
                        value={leg.side}
                        onChange={(event) => {
                          changeLeg(index, { side: event.target.value === String(Side.SELL) ? Side.SELL : Side.BUY });
                        }}
                      >
                        <option value={Side.BUY}>BUY</option>
                        <option value={Side.SELL}>SELL</option>
                      </select>
                      <FieldError field={`legs[${String(index)}].side`} errors={errors} />
                    </td>
                    <td>
                      <input
                        className="ratio-input"
                        inputMode="numeric"
                        aria-label={`Ratio of ${label}`}
                        aria-invalid={errors.has(`legs[${String(index)}].ratio`)}
                        data-testid="spread-leg-ratio"
                        value={String(leg.ratio)}
                        onChange={(event) => {
                          const ratio = Number.parseInt(event.target.value, 10);
                          changeLeg(index, { ratio: Number.isNaN(ratio) ? 0 : ratio });
                        }}
                      />
                      <FieldError field={`legs[${String(index)}].ratio`} errors={errors} />
                    </td>
                    <td>
                      <span data-testid="spread-leg-label">{label}</span>
                      <FieldError field={`legs[${String(index)}].contract`} errors={errors} />
                    </td>
                    <td className="num">{formatDecimal(quotes[index]?.bid ?? "", PRICE)}</td>
                    <td className="num">{formatDecimal(quotes[index]?.ask ?? "", PRICE)}</td>
                    <td>
                      <button
                        type="button"
                        className="small"
                        aria-label={`Remove ${label}`}
                        data-testid="spread-leg-remove"
                        onClick={() => {
                          onLegsChange(legs.filter((_, at) => at !== index));
                        }}
                      >
                        ✕
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <FieldError field="legs" errors={errors} />
      <dl className="facts spread-facts">
        {(["mid", "natural"] as const).map((kind) => (
          <div className="fact" key={kind}>
            <dt>{kind === "mid" ? "Net at mid" : "Net at natural"}</dt>
            <dd>
              <span className="mono" data-testid={`spread-${kind}`} data-price={prices[kind]}>
                {prices[kind] === "" ? "—" : describeNetPrice(prices[kind])}
              </span>{" "}
              {prices[kind] !== "" && (
                <button
                  type="button"
                  className="small"
                  data-testid={`spread-use-${kind}`}
                  onClick={() => {
                    setLimitPrice(roundDecimal(prices[kind], PRICE_PLACES));
                  }}
                >
                  Use
                </button>
              )}
            </dd>
          </div>
        ))}
        <div className="fact">
          <dt>Max profit at expiry</dt>
          <dd data-testid="spread-max-profit">
            {payoff.kind === "computed" ? figureText(payoff.maxProfit, currency) : `— (${payoff.reason})`}
          </dd>
        </div>
        <div className="fact">
          <dt>Max loss at expiry</dt>
          <dd data-testid="spread-max-loss">
            {payoff.kind === "computed" ? figureText(payoff.maxLoss, currency) : `— (${payoff.reason})`}
          </dd>
        </div>
      </dl>
      <div className="field-row">
        {managedAccounts.length > 1 && (
          <Field label="Account" field="account" errors={errors}>
            {(inputProps) => (
              <select
                {...inputProps}
                data-testid="spread-account"
                value={account}
                onChange={(event) => {
                  setAccount(event.target.value);
                }}
              >
                <option value="">Pick an account</option>
                {managedAccounts.map((candidate) => (
                  <option key={candidate} value={candidate}>
                    {candidate}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <Field label="Quantity (combinations)" field="quantity" errors={errors}>
          {(inputProps) => (
            <input
              {...inputProps}
              inputMode="decimal"
              data-testid="spread-quantity"
              value={quantity}
              onChange={(event) => {
                setQuantity(event.target.value);
              }}
            />
          )}
        </Field>
        <Field label="Limit net price (negative: credit)" field="limit_price" errors={errors}>
          {(inputProps) => (
            <>
              <input
                {...inputProps}
                inputMode="decimal"
                data-testid="spread-limit-price"
                value={limitPrice}
                onChange={(event) => {
                  setLimitPrice(event.target.value);
                }}
              />
              <div className="field-hint" data-testid="spread-limit-meaning">
                {limitMeaning(limitPrice.trim(), legs[0]?.contract.multiplier ?? "", currency)}
              </div>
            </>
          )}
        </Field>
      </div>
      {blockers.length > 0 && (
        <div className="ticket-blocked" role="alert" data-testid="spread-disabled">
          <strong>Orders cannot be sent now.</strong>
          {blockers.map((blocker) => (
            <div key={`${blocker.kind}:${blocker.account}`}>{blocker.text}</div>
          ))}
        </div>
      )}
      {showProblems && violations.length > 0 && (
        <ul className="error-list client-errors" aria-label="Problems with the spread" data-testid="spread-problems">
          {violations.map((violation) => (
            <li key={`${violation.field}:${violation.description}`}>
              <code>{violation.field}</code>: {violation.description}
            </li>
          ))}
        </ul>
      )}
      <div className="ticket-actions">
        <button type="submit" className="primary" disabled={blockers.length > 0} data-testid="spread-review">
          {blockers.length > 0 ? "Trading unavailable" : "Review spread"}
        </button>
      </div>
      {serverError !== undefined && <ErrorPanel error={serverError.error} command="place" testId="spread-server-error" />}
      {result?.order !== undefined && (
        <div className="panel result" role="status" data-testid="spread-result">
          Order <span className="mono">{result.order.orderId}</span>: <strong>{statusLabel(result.order.status)}</strong>
          {result.order.statusReason === "" ? "" : ` (${result.order.statusReason})`}, {result.order.legs.length} legs
        </div>
      )}
      {pending !== undefined && (
        <Dialog
          title="Confirm spread"
          onClose={() => {
            setPending(undefined);
          }}
          initialFocus={confirmButton}
          testId="spread-confirm-dialog"
        >
          <dl className="facts confirm-facts">
            <div className="fact">
              <dt>Order</dt>
              <dd data-testid="spread-confirm-summary">
                BUY {pending.quantity} × [{legSummary(legs)}] LIMIT {describeNetPrice(pending.limitPrice)} DAY
              </dd>
            </div>
            {pending.account !== "" && (
              <div className="fact">
                <dt>Account</dt>
                <dd>{pending.account}</dd>
              </div>
            )}
            <div className="fact">
              <dt>Client order id</dt>
              <dd className="mono">{pending.clientOrderId}</dd>
            </div>
          </dl>
          <div className="dialog-actions">
            <button
              ref={confirmButton}
              type="button"
              className="primary"
              disabled={submitting}
              data-testid="spread-confirm-submit"
              onClick={() => {
                void confirm(pending);
              }}
            >
              {submitting ? "Sending…" : "Confirm"}
            </button>
            <button
              type="button"
              data-testid="spread-confirm-cancel"
              onClick={() => {
                setPending(undefined);
              }}
            >
              Back
            </button>
          </div>
        </Dialog>
      )}
    </form>
  );
}
