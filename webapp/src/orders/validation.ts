// The order forms' checks before a round trip (the order ticket, the spread ticket, the modify
// dialog): the request each would send, checked by @bufbuild/protovalidate against the rules its .proto files declare (buf.validate
// annotations in proto/ibkr/v1), the same rules the server checks every request with. Violations
// name the request's fields as the server's BadRequest does ("limit_price",
// "take_profit.limit_price"), so client and server errors land on the same inputs. The server
// stays the authority: it checks again, with what only it knows.
import type { DescField, DescFile, DescMessage, Message } from "@bufbuild/protobuf";
import { createRegistry } from "@bufbuild/protobuf";
import type { Path } from "@bufbuild/protobuf/reflect";
import type { Validator } from "@bufbuild/protovalidate";
import { createValidator } from "@bufbuild/protovalidate";
import { PlaceOrderRequestSchema } from "@ibkr-grpc/client";
import type { TicketForm } from "./ticket";
import { toPlaceOrderRequest } from "./ticket";

export interface Violation {
  /** The request's field path, as the server names it ("take_profit.limit_price"); "" for the request. */
  readonly field: string;
  readonly description: string;
  /**
   * The id of the .proto rule it breaks ("legs.count", "string.positive_decimal"); a check the
   * client makes by hand, because the contract cannot express it, has an id starting "client.".
   */
  readonly ruleId: string;
}

export interface ValidationContext {
  /** The gateway's managed accounts; the account is required when there is more than one. */
  readonly managedAccounts: readonly string[];
}

/** The contract's rules for one request message: its schema and a validator that knows them. */
export interface RequestRules {
  readonly schema: DescMessage;
  readonly validator: Validator;
}

/** The file of a schema and every file it imports: where the predefined rules it uses live. */
function fileWithImports(file: DescFile, found: Set<DescFile> = new Set()): Set<DescFile> {
  if (!found.has(file)) {
    found.add(file);
    for (const imported of file.dependencies) {
      fileWithImports(imported, found);
    }
  }
  return found;
}

/**
 * The rules a request message's .proto declares. The validator learns the predefined rules
 * (ibkr/v1/rules.proto's decimal strings) from the files the schema's file imports.
 */
export function requestRules(schema: DescMessage): RequestRules {
  const registry = createRegistry(...fileWithImports(schema.file));
  return { schema, validator: createValidator({ registry }) };
}

// A message-level rule whose id starts with this judges the order as a whole; the rest of its
// id names the field it is about, as for any message-level rule (proto/ibkr/v1/rules.proto).
const WHOLE_ORDER_PREFIX = "order.";

/**
 * The violation's field path as the server writes it ("legs[0].contract.con_id"). A rule on a
 * message names the field it is about at the start of its id ("limit_price.order_type",
 * "order.take_profit.limit_price.beyond_entry"): that field is appended to the message's path.
 */
export function violationFieldPath(schema: DescMessage, path: Path, ruleId: string): string {
  const parts: string[] = [];
  let message: DescMessage | undefined = schema;
  let lastField: DescField | undefined;
  for (const item of path) {
    switch (item.kind) {
      case "field":
        parts.push(item.name);
        lastField = item;
        message = item.fieldKind === "message" ? item.message : undefined;
        break;
      case "list_sub":
        parts.push(`${parts.pop() ?? ""}[${String(item.index)}]`);
        message = lastField?.fieldKind === "list" && lastField.listKind === "message" ? lastField.message : undefined;
        break;
      case "map_sub":
        parts.push(`${parts.pop() ?? ""}[${String(item.key)}]`);
        message = lastField?.fieldKind === "map" && lastField.mapKind === "message" ? lastField.message : undefined;
        break;
      case "extension":
        parts.push(`[${item.typeName}]`);
        message = undefined;
        break;
      case "oneof":
        break;
    }
  }
  const named = ruleId.startsWith(WHOLE_ORDER_PREFIX) ? ruleId.slice(WHOLE_ORDER_PREFIX.length) : ruleId;
  for (const segment of named.split(".")) {
    const field: DescField | undefined = message?.fields.find((candidate) => candidate.name === segment);
    if (field === undefined) {
      break;
    }
    parts.push(segment);
    message = field.fieldKind === "message" ? field.message : undefined;
  }
  return parts.join(".");
}

/** Every rule of the contract the request breaks, at the fields the server would name. */
export function contractViolations(request: Message, rules: RequestRules): Violation[] {
  const result = rules.validator.validate(rules.schema, request);
  switch (result.kind) {
    case "valid":
      return [];
    case "invalid":
      return result.violations.map((violation) => ({
        field: violationFieldPath(rules.schema, violation.field, violation.ruleId),
        description: violation.message === "" ? violation.ruleId : violation.message,
        ruleId: violation.ruleId,
      }));
    case "error":
      // A rule that cannot be evaluated on this request: refuse it, as the server does.
      return [{ field: "", description: `cannot be checked against its rules: ${result.error.message}`, ruleId: "" }];
  }
}

/**
 * The one check the contract cannot express: which accounts this gateway manages is the
 * server's state, not a property of the request (the server makes the same check).
 */
export function managedAccountViolations(account: string, context: ValidationContext): Violation[] {
  const managed = context.managedAccounts;
  if (account === "" && managed.length > 1) {
    return [
      {
        field: "account",
        description: "is required: the gateway manages more than one account",
        ruleId: "client.account.managed",
      },
    ];
  }
  if (account !== "" && managed.length > 0 && !managed.includes(account)) {
    return [
      { field: "account", description: "is not one of the gateway's managed accounts", ruleId: "client.account.managed" },
    ];
  }
  return [];
}

// The repository's PlaceOrder rules, for the order and spread tickets. One validator for the
// page's life: it compiles each message's rules on first use and keeps them.
export const PLACE_ORDER_RULES = requestRules(PlaceOrderRequestSchema);

/**
 * Every problem the ticket can see: the PlaceOrderRequest it would send, against the contract's
 * rules, and the account against the gateway's. An empty list means the server should accept
 * the order's shape. `rules` is for tests that change a rule.
 */
export function validateOrder(
  form: TicketForm,
  context: ValidationContext,
  rules: RequestRules = PLACE_ORDER_RULES,
): Violation[] {
  // The idempotency key is left out: the ticket generates it (newClientOrderId), in its format.
  const request = toPlaceOrderRequest(form, "");
  return [...managedAccountViolations(form.account, context), ...contractViolations(request, rules)];
}

/** The first violation per field, for showing next to the inputs. */
export function violationsByField(violations: readonly Violation[]): ReadonlyMap<string, string> {
  const byField = new Map<string, string>();
  for (const violation of violations) {
    if (!byField.has(violation.field)) {
      byField.set(violation.field, violation.description);
    }
  }
  return byField;
}
