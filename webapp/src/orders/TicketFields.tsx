// The input parts of the order ticket: labelled fields that show their violation (from the
// client's validation or the server's BadRequest), the contract section and the bracket legs.
import { OptionRight, OptionRightSchema, SecurityType, SecurityTypeSchema } from "@ibkr-grpc/client";
import type { ReactNode, Ref } from "react";
import { useId } from "react";
import { enumFromText, enumLabel, specifiedValues } from "../lib/enums";
import type { TicketForm } from "./ticket";
import { isDerivative } from "./ticket";

export interface InputProps {
  readonly id: string;
  readonly "aria-invalid": boolean;
  readonly "aria-describedby"?: string;
}

export interface FieldProps {
  readonly label: string;
  /** The request field path the violations name ("limit_price", "take_profit.limit_price"). */
  readonly field: string;
  readonly errors: ReadonlyMap<string, string>;
  readonly children: (inputProps: InputProps) => ReactNode;
}

/** A labelled input with its violation (client or server) under it. */
export function Field({ label, field, errors, children }: FieldProps) {
  const id = useId();
  const error = errors.get(field);
  const errorId = `${id}-error`;
  return (
    <div className={error === undefined ? "field" : "field field-invalid"}>
      <label htmlFor={id}>{label}</label>
      {children(error === undefined ? { id, "aria-invalid": false } : { id, "aria-invalid": true, "aria-describedby": errorId })}
      {error !== undefined && (
        <div id={errorId} className="field-error" data-testid={`error-${field}`}>
          {error}
        </div>
      )}
    </div>
  );
}

export interface TicketSectionProps {
  readonly form: TicketForm;
  readonly errors: ReadonlyMap<string, string>;
  readonly change: (patch: Partial<TicketForm>) => void;
}

/**
 * The render function of a decimal input for one form field. Decimals are text, never
 * type="number": no float conversion, no exponent notation.
 */
export function decimalInput(
  { form, change }: Pick<TicketSectionProps, "form" | "change">,
  field: keyof TicketForm,
  testId: string,
  ref?: Ref<HTMLInputElement>,
) {
  return function renderDecimalInput(inputProps: InputProps) {
    return (
      <input
        {...inputProps}
        ref={ref}
        type="text"
        inputMode="decimal"
        autoComplete="off"
        className="num"
        data-testid={testId}
        value={String(form[field])}
        onChange={(event) => {
          change({ [field]: event.target.value.trim() });
        }}
      />
    );
  };
}

export interface ContractFieldsProps extends TicketSectionProps {
  readonly managedAccounts: readonly string[];
  readonly symbolInput: Ref<HTMLInputElement>;
}

/** Account (when the gateway manages several) and the contract, with derivative details. */
export function ContractFields(props: ContractFieldsProps) {
  const { form, errors, change, managedAccounts, symbolInput } = props;
  const derivative = isDerivative(form.securityType);
  return (
    <>
      <div className="field-row">
        {managedAccounts.length > 1 && (
          <Field label="Account" field="account" errors={errors}>
            {(inputProps) => (
              <select
                {...inputProps}
                data-testid="ticket-account"
                value={form.account}
                onChange={(event) => {
                  change({ account: event.target.value });
                }}
              >
                <option value="">Choose…</option>
                {managedAccounts.map((account) => (
                  <option key={account} value={account}>
                    {account}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <Field label="Symbol" field="contract.symbol" errors={errors}>
          {(inputProps) => (
            <input
              {...inputProps}
              ref={symbolInput}
              type="text"
              autoComplete="off"
              className="upper"
              data-testid="ticket-symbol"
              value={form.symbol}
              onChange={(event) => {
                change({ symbol: event.target.value.toUpperCase() });
              }}
            />
          )}
        </Field>
        <Field label="Type" field="contract.security_type" errors={errors}>
          {(inputProps) => (
            <select
              {...inputProps}
              data-testid="ticket-security-type"
              value={form.securityType}
              onChange={(event) => {
                change({ securityType: enumFromText(SecurityTypeSchema, event.target.value) });
              }}
            >
              {specifiedValues(SecurityTypeSchema).map((value) => (
                <option key={value} value={value}>
                  {enumLabel(SecurityTypeSchema, value)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Exchange" field="contract.exchange" errors={errors}>
          {(inputProps) => (
            <input
              {...inputProps}
              type="text"
              className="upper"
              data-testid="ticket-exchange"
              value={form.exchange}
              onChange={(event) => {
                change({ exchange: event.target.value.toUpperCase() });
              }}
            />
          )}
        </Field>
        <Field label="Currency" field="contract.currency" errors={errors}>
          {(inputProps) => (
            <input
              {...inputProps}
              type="text"
              className="upper"
              data-testid="ticket-currency"
              value={form.currency}
              onChange={(event) => {
                change({ currency: event.target.value.toUpperCase() });
              }}
            />
          )}
        </Field>
      </div>
      {derivative && (
        <div className="field-row">
          <Field label="Expiry / month" field="contract.last_trade_date_or_contract_month" errors={errors}>
            {(inputProps) => (
              <input
                {...inputProps}
                type="text"
                placeholder="YYYYMM(DD)"
                data-testid="ticket-expiry"
                value={form.lastTradeDateOrContractMonth}
                onChange={(event) => {
                  change({ lastTradeDateOrContractMonth: event.target.value.trim() });
                }}
              />
            )}
          </Field>
          {form.securityType === SecurityType.OPTION && (
            <>
              <Field label="Strike" field="contract.strike" errors={errors}>
                {decimalInput(props, "strike", "ticket-strike")}
              </Field>
              <Field label="Right" field="contract.right" errors={errors}>
                {(inputProps) => (
                  <select
                    {...inputProps}
                    data-testid="ticket-right"
                    value={form.right}
                    onChange={(event) => {
                      change({ right: enumFromText(OptionRightSchema, event.target.value) });
                    }}
                  >
                    <option value={OptionRight.UNSPECIFIED}>—</option>
                    {specifiedValues(OptionRightSchema).map((value) => (
                      <option key={value} value={value}>
                        {enumLabel(OptionRightSchema, value)}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </>
          )}
          <Field label="Multiplier" field="contract.multiplier" errors={errors}>
            {decimalInput(props, "multiplier", "ticket-multiplier")}
          </Field>
        </div>
      )}
    </>
  );
}

/** The optional take-profit and stop-loss legs that make the order a bracket. */
export function BracketFields(props: TicketSectionProps) {
  const { form, errors, change } = props;
  return (
    <fieldset className="bracket">
      <legend>Bracket</legend>
      <div className="field-row">
        <label className="check">
          <input
            type="checkbox"
            checked={form.takeProfitEnabled}
            data-testid="ticket-take-profit-enabled"
            onChange={(event) => {
              change({ takeProfitEnabled: event.target.checked, takeProfitLimitPrice: "" });
            }}
          />
          Take profit
        </label>
        {form.takeProfitEnabled && (
          <Field label="Take-profit limit" field="take_profit.limit_price" errors={errors}>
            {decimalInput(props, "takeProfitLimitPrice", "ticket-take-profit-price")}
          </Field>
        )}
      </div>
      <div className="field-row">
        <label className="check">
          <input
            type="checkbox"
            checked={form.stopLossEnabled}
            data-testid="ticket-stop-loss-enabled"
            onChange={(event) => {
              change({ stopLossEnabled: event.target.checked, stopLossStopPrice: "", stopLossLimitPrice: "" });
            }}
          />
          Stop loss
        </label>
        {form.stopLossEnabled && (
          <>
            <Field label="Stop-loss stop" field="stop_loss.stop_price" errors={errors}>
              {decimalInput(props, "stopLossStopPrice", "ticket-stop-loss-stop-price")}
            </Field>
            <Field label="Stop-loss limit (optional)" field="stop_loss.limit_price" errors={errors}>
              {decimalInput(props, "stopLossLimitPrice", "ticket-stop-loss-limit-price")}
            </Field>
          </>
        )}
      </div>
    </fieldset>
  );
}
