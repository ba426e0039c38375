// Changes a working order: quantity, the prices its type takes, time in force. Only the fields
// that changed are sent (ModifyOrderRequest leaves unset fields as they are); the request is
// checked against the contract's rules first (modifyOrder.ts), its violations shown at the inputs
// as on the order ticket.
import type { ModifyOrderRequest, Order } from "@ibkr-grpc/client";
import { OrderTypeSchema, TimeInForce, TimeInForceSchema } from "@ibkr-grpc/client";
import type { SyntheticEvent } from "react";
import { useRef, useState } from "react";
import type { ApiError } from "../api/apiError";
import { Dialog } from "../components/Dialog";
import { ErrorPanel } from "../components/ErrorPanel";
import { enumFromText, enumLabel, enumName, specifiedValues } from "../lib/enums";
import { contractLabel } from "../state/contracts";
import type { ModifyDecimal, ModifyValues } from "./modifyOrder";
import { MODIFY_FIELD_PATHS, modifyValuesOf, toModifyRequest, validateModification } from "./modifyOrder";
import { priceFieldsFor } from "./ticket";
import { Field } from "./TicketFields";
import { violationsByField } from "./validation";

const LABELS: Readonly<Record<ModifyDecimal, string>> = {
  quantity: "Quantity",
  limitPrice: "Limit price",
  stopPrice: "Stop price",
  trailingAmount: "Trailing amount",
  trailingPercent: "Trailing %",
};

export interface ModifyOrderDialogProps {
  readonly order: Order;
  readonly submitting: boolean;
  readonly serverError: ApiError | undefined;
  readonly onSubmit: (request: ModifyOrderRequest) => void;
  readonly onCancel: () => void;
}

export function ModifyOrderDialog({ order, submitting, serverError, onSubmit, onCancel }: ModifyOrderDialogProps) {
  const firstInput = useRef<HTMLInputElement>(null);
  const [values, setValues] = useState<ModifyValues>(() => modifyValuesOf(order));
  const [showClientErrors, setShowClientErrors] = useState(false);
  const rules = priceFieldsFor(order.orderType);
  const violations = validateModification(order, values);
  const errors = new Map(showClientErrors ? violationsByField(violations) : []);
  serverError?.fieldViolations.forEach((violation) => {
    if (!errors.has(violation.field)) {
      errors.set(violation.field, violation.description);
    }
  });
  // Which inputs the dialog shows: a price the order's type does not take is not offered (the
  // server refuses it; the request cannot say the order's type for the contract to).
  const shown: readonly ModifyDecimal[] = [
    "quantity",
    ...(rules.limit === "forbidden" ? [] : (["limitPrice"] as const)),
    ...(rules.stop === "forbidden" ? [] : (["stopPrice"] as const)),
    ...(rules.trailing && order.trailingAmount !== "" ? (["trailingAmount"] as const) : []),
    ...(rules.trailing && order.trailingPercent !== "" ? (["trailingPercent"] as const) : []),
  ];
  const shownPaths = new Set(["time_in_force", ...shown.map((key) => MODIFY_FIELD_PATHS[key])]);
  const elsewhere = showClientErrors ? violations.filter((violation) => !shownPaths.has(violation.field)) : [];

  function submit(event: SyntheticEvent) {
    event.preventDefault();
    setShowClientErrors(true);
    if (violations.length === 0) {
      onSubmit(toModifyRequest(order, values));
    }
  }

  const input = (key: ModifyDecimal, label: string) => {
    const path = MODIFY_FIELD_PATHS[key];
    return (
      <Field key={key} label={label} field={path} errors={errors}>
        {(inputProps) => (
          <input
            {...inputProps}
            ref={key === "quantity" ? firstInput : undefined}
            type="text"
            inputMode="decimal"
            className="num"
            data-testid={`modify-${path.replace(/_/g, "-")}`}
            value={values[key]}
            onChange={(event) => {
              setValues({ ...values, [key]: event.target.value.trim() });
            }}
          />
        )}
      </Field>
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
          {shown.map((key) => input(key, LABELS[key]))}
          <Field label="Time in force" field="time_in_force" errors={errors}>
            {(inputProps) => (
              <select
                {...inputProps}
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
            )}
          </Field>
        </div>
        {elsewhere.length > 0 && (
          <ul className="error-list client-errors" aria-label="Problems with the modification" data-testid="modify-violations">
            {elsewhere.map((violation) => (
              <li key={`${violation.field}:${violation.description}`}>
                <code>{violation.field}</code>: {violation.description}
              </li>
            ))}
          </ul>
        )}
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
