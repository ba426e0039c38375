// Changes a working order: quantity, the prices its type takes, time in force. Only the fields
// that changed are sent (ModifyOrderRequest leaves unset fields as they are).
import { create } from "@bufbuild/protobuf";
import type { ModifyOrderRequest, Order } from "@ibkr-grpc/client";
import { ModifyOrderRequestSchema, OrderTypeSchema, TimeInForce, TimeInForceSchema } from "@ibkr-grpc/client";
import type { SyntheticEvent } from "react";
import { useRef, useState } from "react";
import type { ApiError } from "../api/apiError";
import { Dialog } from "../components/Dialog";
import { ErrorPanel } from "../components/ErrorPanel";
import { compareDecimalStrings, isPlainDecimal, parseDecimal, sign } from "../lib/decimal";
import { enumFromText, enumLabel, enumName, specifiedValues } from "../lib/enums";
import { orderTerms } from "../lib/orderLabels";
import { contractLabel } from "../state/contracts";
import { priceFieldsFor } from "./ticket";

interface ModifyValues {
  readonly quantity: string;
  readonly limitPrice: string;
  readonly stopPrice: string;
  readonly trailingAmount: string;
  readonly trailingPercent: string;
  readonly timeInForce: TimeInForce;
}

const FIELD_PATHS: Readonly<Record<keyof Omit<ModifyValues, "timeInForce">, string>> = {
  quantity: "quantity",
  limitPrice: "limit_price",
  stopPrice: "stop_price",
  trailingAmount: "trailing_amount",
  trailingPercent: "trailing_percent",
};

/** The request for what changed, or field violations when a changed value is not valid. */
export function buildModifyRequest(
  order: Order,
  values: ModifyValues,
): { request: ModifyOrderRequest; violations: Map<string, string> } {
  const request = create(ModifyOrderRequestSchema, { orderId: order.orderId });
  const violations = new Map<string, string>();
  for (const key of Object.keys(FIELD_PATHS) as (keyof typeof FIELD_PATHS)[]) {
    const value = values[key];
    if (value === order[key]) {
      continue;
    }
    const path = FIELD_PATHS[key];
    if (!isPlainDecimal(value)) {
      violations.set(path, `must be a plain decimal string like 187.25, got "${value}"`);
      continue;
    }
    const parsed = parseDecimal(value);
    if (parsed === undefined || sign(parsed) <= 0) {
      violations.set(path, "must be greater than zero");
      continue;
    }
    request[key] = value;
  }
  if (values.timeInForce !== order.timeInForce) {
    request.timeInForce = values.timeInForce;
  }
  return { request, violations };
}

/**
 * What ModifyOrder's answer says: IB confirmed the requested terms (the order carries them), or
 * the server's bounded wait ran out and the order is as IB last reported it.
 */
export function modifyOutcome(request: ModifyOrderRequest, order: Order): { confirmed: boolean; text: string } {
  const decimalsConfirmed = (Object.keys(FIELD_PATHS) as (keyof typeof FIELD_PATHS)[]).every((key) => {
    const requested = request[key];
    return requested === undefined || compareDecimalStrings(requested, order[key]) === 0;
  });
  const confirmed =
    decimalsConfirmed && (request.timeInForce === TimeInForce.UNSPECIFIED || request.timeInForce === order.timeInForce);
  const terms = orderTerms(order);
  return confirmed
    ? { confirmed, text: `Modified ${order.orderId}: IB confirmed ${terms}.` }
    : {
        confirmed,
        text: `Modification of ${order.orderId} sent; IB has not confirmed the new terms yet. It stands at ${terms}.`,
      };
}

export interface ModifyOrderDialogProps {
  readonly order: Order;
  readonly submitting: boolean;
  readonly serverError: ApiError | undefined;
  readonly onSubmit: (request: ModifyOrderRequest) => void;
  readonly onCancel: () => void;
}

export function ModifyOrderDialog({ order, submitting, serverError, onSubmit, onCancel }: ModifyOrderDialogProps) {
  const firstInput = useRef<HTMLInputElement>(null);
  const [values, setValues] = useState<ModifyValues>({
    quantity: order.quantity,
    limitPrice: order.limitPrice,
    stopPrice: order.stopPrice,
    trailingAmount: order.trailingAmount,
    trailingPercent: order.trailingPercent,
    timeInForce: order.timeInForce,
  });
  const [violations, setViolations] = useState<ReadonlyMap<string, string>>(new Map());
  const rules = priceFieldsFor(order.orderType);
  const errors = new Map(violations);
  serverError?.fieldViolations.forEach((violation) => {
    if (!errors.has(violation.field)) {
      errors.set(violation.field, violation.description);
    }
  });

  function submit(event: SyntheticEvent) {
    event.preventDefault();
    const built = buildModifyRequest(order, values);
    setViolations(built.violations);
    if (built.violations.size === 0) {
      onSubmit(built.request);
    }
  }

  const input = (key: keyof typeof FIELD_PATHS, label: string) => {
    const path = FIELD_PATHS[key];
    const error = errors.get(path);
    return (
      <div className={error === undefined ? "field" : "field field-invalid"}>
        <label>
          {label}
          <input
            ref={key === "quantity" ? firstInput : undefined}
            type="text"
            inputMode="decimal"
            className="num"
            data-testid={`modify-${path.replace(/_/g, "-")}`}
            aria-invalid={error !== undefined}
            value={values[key]}
            onChange={(event) => {
              setValues({ ...values, [key]: event.target.value.trim() });
            }}
          />
        </label>
        {error !== undefined && (
          <div className="field-error" data-testid={`error-${path}`}>
            {error}
          </div>
        )}
      </div>
    );
  };

  return (
    <Dialog
      title={`Modify ${order.orderId}: ${order.contract === undefined ? "" : contractLabel(order.contract)} ${enumName(OrderTypeSchema, order.orderType)}`}
      onClose={onCancel}
      initialFocus={firstInput}
      testId="modify-dialog"
    >
      <form onSubmit={submit} noValidate>
        <div className="field-row">
          {input("quantity", "Quantity")}
          {rules.limit !== "forbidden" && input("limitPrice", "Limit price")}
          {rules.stop !== "forbidden" && input("stopPrice", "Stop price")}
          {rules.trailing && order.trailingAmount !== "" && input("trailingAmount", "Trailing amount")}
          {rules.trailing && order.trailingPercent !== "" && input("trailingPercent", "Trailing %")}
          <div className="field">
            <label>
              Time in force
              <select
                data-testid="modify-tif"
                value={values.timeInForce}
                onChange={(event) => {
                  setValues({ ...values, timeInForce: enumFromText(TimeInForceSchema, event.target.value) });
                }}
              >
                {values.timeInForce === TimeInForce.UNSPECIFIED && <option value={TimeInForce.UNSPECIFIED}>DAY</option>}
                {specifiedValues(TimeInForceSchema).map((value) => (
                  <option key={value} value={value}>
                    {enumLabel(TimeInForceSchema, value)}
                  </option>
                ))}
              </select>
            </label>
          </div>
        </div>
        {serverError !== undefined && <ErrorPanel error={serverError} command="modify" testId="modify-error" />}
        <div className="dialog-actions">
          <button type="button" onClick={onCancel} data-testid="modify-cancel">
            Back
          </button>
          <button type="submit" className="primary" disabled={submitting} data-testid="modify-submit">
            {submitting ? "Sending…" : "Send modification"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
