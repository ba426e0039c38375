// The order ticket: the contract's live market (bid, ask, last, spread), every order type and
// time in force, bracket legs, client-side validation, the notional as you type, a confirmation
// step, and the server's answer (the order, or the error with its reason and fields), with the
// contract's chart and order book (depth ladder) beside it. While trading is halted or the
// gateway cannot take orders, the ticket says why and sends nothing.
import type { OrderPreview, PlaceOrderRequest, PlaceOrderResponse } from "@ibkr-grpc/client";
import {
  OrderService,
  OrderStatus,
  OrderType,
  OrderTypeSchema,
  SecurityType,
  Side,
  TimeInForceSchema,
} from "@ibkr-grpc/client";
import type { SyntheticEvent } from "react";
import { useEffect, useRef, useState } from "react";
import type { ApiError } from "../api/apiError";
import { describeError } from "../api/apiError";
import { useClient } from "../api/ApiProvider";
import { useNavigation } from "../app/navigation";
import { ErrorPanel } from "../components/ErrorPanel";
import { formatMoney } from "../lib/decimal";
import { enumFromText, enumLabel, specifiedValues } from "../lib/enums";
import { DepthLadder } from "../market/DepthLadder";
import { PriceChart } from "../market/PriceChart";
import { useLiveQuote } from "../market/useLiveQuote";
import { contractKey } from "../state/contracts";
import { statusLabel } from "../lib/orderLabels";
import { ConfirmOrderDialog } from "../orders/ConfirmOrderDialog";
import { BracketFields, ContractFields, Field, decimalInput } from "../orders/TicketFields";
import type { Notional, TicketForm } from "../orders/ticket";
import {
  EMPTY_TICKET,
  newClientOrderId,
  orderNotional,
  priceFieldsFor,
  toPlaceOrderRequest,
  withOrderType,
} from "../orders/ticket";
import { TicketQuote } from "../orders/TicketQuote";
import type { Violation } from "../orders/validation";
import { validateOrder, violationsByField } from "../orders/validation";
import { useGatewayStatus, useTradingBlockers } from "../state/LiveData";
import { blockersForAccount } from "../trading/availability";

interface PendingOrder {
  readonly request: PlaceOrderRequest;
  readonly notional: Notional | undefined;
}

function isUnacknowledged(status: OrderStatus | undefined): boolean {
  return status === OrderStatus.PENDING_SUBMIT || status === OrderStatus.NOT_SENT;
}

function initialForm(contractSymbol: string | undefined, side: Side, prefill: Partial<TicketForm>): TicketForm {
  return { ...EMPTY_TICKET, ...prefill, symbol: contractSymbol ?? "", side };
}

export function OrderTicketPage() {
  const client = useClient(OrderService);
  const { ticketRequest } = useNavigation();
  const gateway = useGatewayStatus();
  const managedAccounts = gateway?.managedAccounts ?? [];

  const [form, setForm] = useState<TicketForm>(() => {
    const contract = ticketRequest.contract;
    return initialForm(contract?.symbol, ticketRequest.side, contract === undefined ? {} : {
      securityType: contract.securityType === SecurityType.UNSPECIFIED ? SecurityType.STOCK : contract.securityType,
      exchange: contract.exchange === "" ? "SMART" : contract.exchange,
      currency: contract.currency === "" ? "USD" : contract.currency,
      lastTradeDateOrContractMonth: contract.lastTradeDateOrContractMonth,
      strike: contract.strike,
      right: contract.right,
      multiplier: contract.multiplier,
    });
  });
  const [showClientErrors, setShowClientErrors] = useState(false);
  const [pending, setPending] = useState<PendingOrder | undefined>(undefined);
  const [submitting, setSubmitting] = useState(false);
  const [serverError, setServerError] = useState<{ error: ApiError; formKey: string } | undefined>(undefined);
  const [result, setResult] = useState<PlaceOrderResponse | undefined>(undefined);
  const [preview, setPreview] = useState<OrderPreview | undefined>(undefined);
  const [previewError, setPreviewError] = useState<ApiError | undefined>(undefined);
  // The idempotency key of the form as it stands: reused when the same order is retried, new
  // once the order changes (AIP-155).
  const idempotency = useRef<{ key: string; clientOrderId: string } | undefined>(undefined);

  const symbolInput = useRef<HTMLInputElement>(null);
  const quantityInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    (ticketRequest.contract === undefined ? symbolInput : quantityInput).current?.focus();
  }, [ticketRequest]);

  const quoteContract = form.symbol.trim() === "" ? undefined : toPlaceOrderRequest(form, "").contract;
  const live = useLiveQuote(quoteContract);
  const lastPrice = live.quote?.last ?? "";
  const notional = orderNotional(form, lastPrice);
  const blockers = blockersForAccount(useTradingBlockers(), form.account, managedAccounts);
  const violations: Violation[] = validateOrder(form, { managedAccounts });
  const errors = new Map<string, string>();
  if (showClientErrors) {
    violationsByField(violations).forEach((description, field) => errors.set(field, description));
  }
  // The server's field violations mark the inputs until the order is edited; the error panel
  // stays until the next attempt.
  if (serverError !== undefined && serverError.formKey === JSON.stringify(form)) {
    serverError.error.fieldViolations.forEach((violation) => {
      if (!errors.has(violation.field)) {
        errors.set(violation.field, violation.description);
      }
    });
  }
  const rules = priceFieldsFor(form.orderType);

  function change(patch: Partial<TicketForm>) {
    setForm((previous) => ({ ...previous, ...patch }));
    setResult(undefined);
  }

  function review(event: SyntheticEvent) {
    event.preventDefault();
    if (blockers.length > 0) {
      return;
    }
    setShowClientErrors(true);
    if (violations.length > 0) {
      return;
    }
    const key = JSON.stringify(form);
    if (idempotency.current?.key !== key) {
      idempotency.current = { key, clientOrderId: newClientOrderId() };
    }
    setPreview(undefined);
    setPreviewError(undefined);
    setPending({
      request: toPlaceOrderRequest(form, idempotency.current.clientOrderId),
      notional,
    });
  }

  async function confirm() {
    if (pending === undefined) {
      return;
    }
    setSubmitting(true);
    try {
      const response = await client.placeOrder(pending.request);
      setResult(response);
      setServerError(undefined);
      // IB has the order: the same ticket again is a new order. While IB has not acknowledged
      // it, or never received it (NOT_SENT), the same ticket keeps its client order id, so
      // submitting it again returns or sends this order, never a second one.
      if (!isUnacknowledged(response.order?.status)) {
        idempotency.current = undefined;
      }
    } catch (error) {
      setServerError({ error: describeError(error), formKey: JSON.stringify(form) });
      setResult(undefined);
    } finally {
      setSubmitting(false);
      setPending(undefined);
    }
  }

  async function runPreview() {
    if (pending === undefined) {
      return;
    }
    try {
      const response = await client.placeOrder({ ...pending.request, validateOnly: true });
      setPreview(response.preview);
      setPreviewError(undefined);
    } catch (error) {
      setPreviewError(describeError(error));
    }
  }

  const section = { form, change };

  return (
    <div className="ticket-page">
      <div className="ticket-column">
      <form className="panel ticket" onSubmit={review} aria-label="Order ticket" noValidate>
        <h2>Order ticket</h2>
        {blockers.length > 0 && (
          <div className="ticket-blocked" role="alert" data-testid="ticket-disabled">
            <strong>Orders cannot be sent now.</strong>
            {blockers.map((blocker) => (
              <div
                key={`${blocker.kind}:${blocker.account}`}
                data-testid={
                  blocker.kind === "halt"
                    ? "ticket-halted"
                    : blocker.kind === "mode"
                      ? "ticket-trading-blocked"
                      : "ticket-gateway-warning"
                }
              >
                {blocker.text}
              </div>
            ))}
          </div>
        )}
        <div className="side-toggle" role="radiogroup" aria-label="Side">
          {[Side.BUY, Side.SELL].map((side) => (
            <label key={side} className={form.side === side ? `side side-${side === Side.BUY ? "buy" : "sell"} side-active` : "side"}>
              <input
                type="radio"
                name="side"
                checked={form.side === side}
                data-testid={`ticket-side-${side === Side.BUY ? "buy" : "sell"}`}
                onChange={() => {
                  change({ side });
                }}
              />
              {side === Side.BUY ? "Buy" : "Sell"}
            </label>
          ))}
        </div>
        <ContractFields
          form={form}
          errors={errors}
          change={change}
          managedAccounts={managedAccounts}
          symbolInput={symbolInput}
        />
        <TicketQuote
          symbol={form.symbol}
          quote={live.quote}
          problem={live.problem}
          onPickPrice={
            rules.limit === "forbidden"
              ? undefined
              : (price) => {
                  change({ limitPrice: price });
                }
          }
        />
        <div className="field-row">
          <Field label="Quantity" field="quantity" errors={errors}>
            {decimalInput(section, "quantity", "ticket-quantity", quantityInput)}
          </Field>
          <Field label="Order type" field="order_type" errors={errors}>
            {(inputProps) => (
              <select
                {...inputProps}
                data-testid="ticket-order-type"
                value={form.orderType}
                onChange={(event) => {
                  setForm((previous) => withOrderType(previous, enumFromText(OrderTypeSchema, event.target.value)));
                }}
              >
                {specifiedValues(OrderTypeSchema).map((value) => (
                  <option key={value} value={value}>
                    {enumLabel(OrderTypeSchema, value)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {rules.limit !== "forbidden" && (
            <Field label="Limit price" field="limit_price" errors={errors}>
              {decimalInput(section, "limitPrice", "ticket-limit-price")}
            </Field>
          )}
          {rules.stop !== "forbidden" && (
            <Field label={rules.stop === "optional" ? "Initial stop (optional)" : "Stop price"} field="stop_price" errors={errors}>
              {decimalInput(section, "stopPrice", "ticket-stop-price")}
            </Field>
          )}
          {rules.trailing && (
            <>
              <Field label="Trailing amount" field="trailing_amount" errors={errors}>
                {decimalInput(section, "trailingAmount", "ticket-trailing-amount")}
              </Field>
              <Field label="Trailing %" field="trailing_percent" errors={errors}>
                {decimalInput(section, "trailingPercent", "ticket-trailing-percent")}
              </Field>
            </>
          )}
          <Field label="Time in force" field="time_in_force" errors={errors}>
            {(inputProps) => (
              <select
                {...inputProps}
                data-testid="ticket-tif"
                value={form.timeInForce}
                onChange={(event) => {
                  change({ timeInForce: enumFromText(TimeInForceSchema, event.target.value) });
                }}
              >
                {specifiedValues(TimeInForceSchema).map((value) => (
                  <option key={value} value={value}>
                    {enumLabel(TimeInForceSchema, value)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={form.outsideRegularHours}
            data-testid="ticket-outside-rth"
            onChange={(event) => {
              change({ outsideRegularHours: event.target.checked });
            }}
          />
          Allow outside regular hours
        </label>
        <BracketFields form={form} errors={errors} change={change} />
        {showClientErrors && violations.length > 0 && (
          <ul className="error-list client-errors" aria-label="Problems with the order" data-testid="ticket-violations">
            {violations.map((violation) => (
              <li key={`${violation.field}:${violation.description}`}>
                <code>{violation.field}</code>: {violation.description}
              </li>
            ))}
          </ul>
        )}
        <div className="ticket-actions">
          <button
            type="submit"
            className={form.side === Side.BUY ? "primary buy" : "primary sell"}
            disabled={blockers.length > 0}
            title={blockers.map((blocker) => blocker.text).join("\n") || undefined}
            data-testid="ticket-review"
          >
            {blockers.length > 0 ? "Trading unavailable" : `Review ${form.side === Side.BUY ? "buy" : "sell"} order`}
          </button>
          <span className="ticket-notional" data-testid="ticket-notional">
            {notional === undefined
              ? ""
              : `Notional ${form.orderType === OrderType.MARKET ? "≈ " : ""}${formatMoney(notional.value)} ${form.currency.trim().toUpperCase()} (${form.quantity} × ${notional.price}${notional.multiplier === "" ? "" : ` × ${notional.multiplier}`}, ${notional.priceSource})`}
          </span>
        </div>
      </form>
      {serverError !== undefined && <ErrorPanel error={serverError.error} command="place" testId="ticket-server-error" />}
      {result?.order !== undefined && (
        <div className="panel result" role="status" data-testid="ticket-result">
          Order <span className="mono">{result.order.orderId}</span>:{" "}
          <strong>{statusLabel(result.order.status)}</strong>
          {result.order.statusReason === "" ? "" : ` (${result.order.statusReason})`}
          {result.bracketOrders.length > 0 && ` with ${result.bracketOrders.length} bracket legs`}
          {result.order.status === OrderStatus.NOT_SENT && (
            <div className="notice notice-warning" data-testid="ticket-result-hint">
              IB never received it. Submitting this same ticket again sends it, once, with the same client order
              id <span className="mono">{result.order.clientOrderId}</span>.
            </div>
          )}
          {result.order.status === OrderStatus.PENDING_SUBMIT && (
            <div className="muted" data-testid="ticket-result-hint">
              IB has not acknowledged it yet. Submitting this same ticket again reuses client order id{" "}
              <span className="mono">{result.order.clientOrderId}</span> and cannot place a second order.
            </div>
          )}
        </div>
      )}
      </div>
      <div className="ticket-chart">
        {/* Charted once the symbol is quoted: a symbol being typed is not charted prefix by prefix. */}
        {quoteContract !== undefined && live.quote !== undefined ? (
          <>
            <PriceChart key={contractKey(quoteContract)} contract={quoteContract} height={380} />
            <DepthLadder key={`depth:${contractKey(quoteContract)}`} contract={quoteContract} />
          </>
        ) : (
          <section className="panel chart-placeholder muted">The chart of the symbol shows here once it is quoted.</section>
        )}
      </div>
      {pending !== undefined && (
        <ConfirmOrderDialog
          request={pending.request}
          notional={pending.notional}
          submitting={submitting}
          preview={preview}
          previewError={previewError}
          onConfirm={() => {
            void confirm();
          }}
          onPreview={() => {
            void runPreview();
          }}
          onCancel={() => {
            // The dialog gives focus back to where it was (the review button, or the field Enter
            // was pressed in).
            setPending(undefined);
          }}
        />
      )}
    </div>
  );
}
