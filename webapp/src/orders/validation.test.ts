import type { DescMessage } from "@bufbuild/protobuf";
import type { DescriptorProto } from "@bufbuild/protobuf/wkt";
import { OrderType, PlaceOrderRequestSchema, SecurityType, Side, TimeInForce } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { editedSchema, editFieldRules, editMessageRules } from "../test/editedRules";
import type { TicketForm } from "./ticket";
import { EMPTY_TICKET } from "./ticket";
import type { RequestRules } from "./validation";
import { requestRules, validateOrder } from "./validation";

const BASE: TicketForm = { ...EMPTY_TICKET, symbol: "AAPL", quantity: "100", orderType: OrderType.MARKET };

const ONE_ACCOUNT = { managedAccounts: ["DU111"] };

function violations(patch: Partial<TicketForm>, context = ONE_ACCOUNT, rules?: RequestRules) {
  return validateOrder({ ...BASE, ...patch }, context, rules).map((violation) => `${violation.field}: ${violation.description}`);
}

function fields(patch: Partial<TicketForm>, context = ONE_ACCOUNT) {
  return validateOrder({ ...BASE, ...patch }, context).map((violation) => violation.field);
}

describe("valid orders of every type", () => {
  it.each<[string, Partial<TicketForm>]>([
    ["MARKET", { orderType: OrderType.MARKET }],
    ["LIMIT", { orderType: OrderType.LIMIT, limitPrice: "187.25" }],
    ["STOP", { orderType: OrderType.STOP, stopPrice: "180" }],
    ["STOP_LIMIT", { orderType: OrderType.STOP_LIMIT, stopPrice: "180", limitPrice: "179.5" }],
    ["TRAILING_STOP by amount", { orderType: OrderType.TRAILING_STOP, trailingAmount: "1.5" }],
    ["TRAILING_STOP by percent", { orderType: OrderType.TRAILING_STOP, trailingPercent: "2" }],
    ["TRAILING_STOP with initial stop", { orderType: OrderType.TRAILING_STOP, trailingPercent: "2", stopPrice: "170" }],
    ["fractional forex quantity", { quantity: "25000.5", securityType: SecurityType.FOREX, symbol: "EUR", exchange: "IDEALPRO" }],
    ["an option", { securityType: SecurityType.OPTION, lastTradeDateOrContractMonth: "20261218", strike: "190", multiplier: "100" }],
    ["a future by contract month", { securityType: SecurityType.FUTURE, symbol: "ES", lastTradeDateOrContractMonth: "202612" }],
  ])("%s passes", (_name, patch) => {
    expect(violations(patch)).toEqual([]);
  });
});

describe("prices per order type (the contract's CEL rules on PlaceOrderRequest)", () => {
  it("LIMIT needs limit_price", () => {
    expect(violations({ orderType: OrderType.LIMIT })).toEqual(["limit_price: is required for LIMIT orders"]);
  });

  it("STOP needs stop_price", () => {
    expect(violations({ orderType: OrderType.STOP })).toEqual(["stop_price: is required for STOP orders"]);
  });

  it("STOP_LIMIT needs both prices", () => {
    expect(fields({ orderType: OrderType.STOP_LIMIT })).toEqual(["limit_price", "stop_price"]);
  });

  it("TRAILING_STOP needs trailing_amount or trailing_percent", () => {
    expect(violations({ orderType: OrderType.TRAILING_STOP })).toEqual([
      "trailing_amount: is required for TRAILING_STOP orders",
    ]);
  });

  it("TRAILING_STOP takes exactly one of them", () => {
    expect(violations({ orderType: OrderType.TRAILING_STOP, trailingAmount: "1", trailingPercent: "1" })).toEqual([
      "trailing_percent: give trailing_amount or trailing_percent, not both",
    ]);
  });

  it("an unspecified order type is refused", () => {
    expect(violations({ orderType: OrderType.UNSPECIFIED })).toEqual(["order_type: value is required"]);
  });

  it("an order type this client does not know is refused, not crashed on", () => {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a value from a newer contract.
    expect(violations({ orderType: 99 as OrderType })).toEqual(["order_type: value must be one of the defined enum values"]);
  });

  it.each<[string, Partial<TicketForm>, string]>([
    ["limit on MARKET", { orderType: OrderType.MARKET, limitPrice: "1" }, "limit_price: must be empty for MARKET orders"],
    ["stop on MARKET", { orderType: OrderType.MARKET, stopPrice: "1" }, "stop_price: must be empty for MARKET orders"],
    ["stop on LIMIT", { orderType: OrderType.LIMIT, limitPrice: "1", stopPrice: "1" }, "stop_price: must be empty for LIMIT orders"],
    ["limit on STOP", { orderType: OrderType.STOP, stopPrice: "1", limitPrice: "1" }, "limit_price: must be empty for STOP orders"],
    ["trailing on LIMIT", { orderType: OrderType.LIMIT, limitPrice: "1", trailingAmount: "1" }, "trailing_amount: must be empty for LIMIT orders"],
    ["trailing % on STOP_LIMIT", { orderType: OrderType.STOP_LIMIT, limitPrice: "1", stopPrice: "1", trailingPercent: "1" }, "trailing_percent: must be empty for STOP_LIMIT orders"],
    ["limit on TRAILING_STOP", { orderType: OrderType.TRAILING_STOP, trailingAmount: "1", limitPrice: "1" }, "limit_price: must be empty for TRAILING_STOP orders"],
  ])("a price the order type does not take is refused: %s", (_name, patch, expected) => {
    expect(violations(patch)).toEqual([expected]);
  });
});

describe("decimal strings (ibkr/v1/rules.proto's predefined rules)", () => {
  it.each(["0", "-1", "0.000"])("quantity must be greater than zero: %s", (quantity) => {
    expect(violations({ quantity })).toEqual(["quantity: must be greater than zero"]);
  });

  it("quantity is required", () => {
    expect(violations({ quantity: "" })).toEqual(["quantity: is required"]);
  });

  it.each(["1e3", "1,000", "10.", "abc", "+5"])("quantity must be a plain decimal: %s", (quantity) => {
    expect(violations({ quantity })).toEqual(["quantity: must be a plain decimal string like 187.25"]);
  });

  it.each<[string, Partial<TicketForm>]>([
    ["limit_price", { orderType: OrderType.LIMIT, limitPrice: "1.2e2" }],
    ["stop_price", { orderType: OrderType.STOP, stopPrice: "1,5" }],
    ["trailing_amount", { orderType: OrderType.TRAILING_STOP, trailingAmount: ".5" }],
    ["trailing_percent", { orderType: OrderType.TRAILING_STOP, trailingPercent: "1%" }],
    ["contract.strike", { securityType: SecurityType.OPTION, lastTradeDateOrContractMonth: "20261218", strike: "19O" }],
  ])("%s must be a plain decimal", (field, patch) => {
    expect(violations(patch)).toEqual([`${field}: must be a plain decimal string like 187.25`]);
  });

  it("a zero limit price is refused", () => {
    expect(violations({ orderType: OrderType.LIMIT, limitPrice: "0" })).toEqual(["limit_price: must be greater than zero"]);
  });

  it("a negative trailing percent is refused, and one of 100 or more", () => {
    expect(violations({ orderType: OrderType.TRAILING_STOP, trailingPercent: "-1" })).toEqual([
      "trailing_percent: must be greater than zero",
    ]);
    expect(violations({ orderType: OrderType.TRAILING_STOP, trailingPercent: "100" })).toEqual([
      "trailing_percent: must be below 100",
    ]);
  });
});

describe("contract, side and account", () => {
  it("needs a symbol", () => {
    expect(violations({ symbol: " " })).toEqual(["contract.symbol: is required unless con_id is given"]);
  });

  it("refuses a symbol, an exchange or an expiry IB would not take", () => {
    expect(fields({ symbol: "AAPL;" })).toEqual(["contract.symbol"]);
    expect(violations({ exchange: "SMART!" })).toEqual(["contract.exchange: must be letters, digits, '.', '-' or '_'"]);
    expect(fields({ securityType: SecurityType.FUTURE, symbol: "ES", lastTradeDateOrContractMonth: "2026-12" })).toEqual([
      "contract.last_trade_date_or_contract_month",
    ]);
  });

  it("needs a side", () => {
    expect(violations({ side: Side.UNSPECIFIED })).toEqual(["side: value is required"]);
  });

  it("needs an account when the gateway manages several (a check by hand: the accounts are the server's)", () => {
    expect(violations({}, { managedAccounts: ["DU111", "DU222"] })).toEqual([
      "account: is required: the gateway manages more than one account",
    ]);
    expect(violations({ account: "DU222" }, { managedAccounts: ["DU111", "DU222"] })).toEqual([]);
  });

  it("refuses an account the gateway does not manage", () => {
    expect(violations({ account: "DU999" })).toEqual(["account: is not one of the gateway's managed accounts"]);
  });

  it("refuses an account id in the wrong format before the gateway's accounts are known", () => {
    expect(violations({ account: "DU 111" }, { managedAccounts: [] })).toEqual([
      "account: must be an IB account id like DU1234567",
    ]);
  });
});

describe("bracket legs", () => {
  const buyLimit: Partial<TicketForm> = { orderType: OrderType.LIMIT, limitPrice: "100" };
  const sellLimit: Partial<TicketForm> = { ...buyLimit, side: Side.SELL };
  const legs = (takeProfit: string, stopLoss: string): Partial<TicketForm> => ({
    takeProfitEnabled: takeProfit !== "-",
    takeProfitLimitPrice: takeProfit === "-" ? "" : takeProfit,
    stopLossEnabled: stopLoss !== "-",
    stopLossStopPrice: stopLoss === "-" ? "" : stopLoss,
  });

  it("accepts a buy bracket with take-profit above and stop-loss below the entry", () => {
    expect(violations({ ...buyLimit, ...legs("110", "95") })).toEqual([]);
  });

  it("accepts a sell bracket with take-profit below and stop-loss above the entry", () => {
    expect(violations({ ...sellLimit, ...legs("90", "105") })).toEqual([]);
  });

  it.each<[string, Partial<TicketForm>, string]>([
    ["a buy take-profit at the entry", { ...buyLimit, ...legs("100", "-") }, "take_profit.limit_price: must be above the entry limit price"],
    ["a buy stop-loss above the entry", { ...buyLimit, ...legs("-", "101") }, "stop_loss.stop_price: must be below the entry limit price"],
    ["a sell take-profit above the entry", { ...sellLimit, ...legs("101", "-") }, "take_profit.limit_price: must be below the entry limit price"],
    ["a sell stop-loss below the entry", { ...sellLimit, ...legs("-", "99") }, "stop_loss.stop_price: must be above the entry limit price"],
  ])("refuses %s", (_name, patch, expected) => {
    expect(violations(patch)).toEqual([expected]);
  });

  it("takes a MARKET or LIMIT entry only, and not IOC or FOK", () => {
    expect(violations({ orderType: OrderType.STOP, stopPrice: "100", ...legs("110", "-") })).toEqual([
      "order_type: a bracket's entry must be a MARKET or LIMIT order",
    ]);
    expect(violations({ ...buyLimit, ...legs("110", "-"), timeInForce: TimeInForce.IOC })).toEqual([
      "time_in_force: a bracket's entry cannot be IOC or FOK",
    ]);
  });

  it("checks the legs against each other when a market order has no entry price", () => {
    expect(violations({ ...legs("95", "100") })).toEqual([
      "take_profit.limit_price: must be on the other side of the stop loss",
    ]);
    expect(violations({ ...legs("105", "100") })).toEqual([]);
  });

  it("compares prices as numbers, not as text", () => {
    // "9.5" > "10" as text; as numbers it is below.
    expect(violations({ orderType: OrderType.LIMIT, limitPrice: "9.75", ...legs("10", "9.5") })).toEqual([]);
  });

  it("needs the price of an enabled leg", () => {
    expect(violations({ ...buyLimit, ...legs("", "") })).toEqual([
      "take_profit.limit_price: is required",
      "stop_loss.stop_price: is required",
    ]);
  });

  it("checks the optional stop-loss limit as a decimal at or beyond its stop", () => {
    expect(fields({ ...buyLimit, ...legs("-", "95"), stopLossLimitPrice: "9e1" })).toEqual(["stop_loss.limit_price"]);
    expect(violations({ ...buyLimit, ...legs("-", "95"), stopLossLimitPrice: "94.5" })).toEqual([]);
    expect(violations({ ...buyLimit, ...legs("-", "95"), stopLossLimitPrice: "96" })).toEqual([
      "stop_loss.limit_price: must be at or below the stop-loss stop price",
    ]);
  });
});

/** PlaceOrderRequest as order_service.proto would describe it after `edit`. */
function editedPlaceOrderRequest(edit: (message: DescriptorProto) => void): DescMessage {
  return editedSchema(PlaceOrderRequestSchema, edit);
}

describe("the ticket follows the contract's rules, not rules of its own", () => {
  const trailing: Partial<TicketForm> = { orderType: OrderType.TRAILING_STOP, trailingPercent: "25" };

  it("refuses what a field rule made stricter in the descriptor refuses, and only that", () => {
    // order_service.proto: trailing_percent "must be below 100"; edited: below 20.
    const stricter = requestRules(
      editedPlaceOrderRequest(
        editFieldRules("trailing_percent", (rules) => {
          const below = rules.cel.find((rule) => rule.id === "trailing_percent.below_100");
          if (below === undefined) {
            throw new Error("order_service.proto no longer has the rule this test edits");
          }
          below.expression = "!this.matches('^-?[0-9]{1,18}([.][0-9]{1,10})?$') || double(this) < 20.0";
          below.message = "must be below 20";
        }),
      ),
    );
    expect(violations(trailing)).toEqual([]);
    expect(violations(trailing, ONE_ACCOUNT, stricter)).toEqual(["trailing_percent: must be below 20"]);
    expect(violations({ ...trailing, trailingPercent: "19.5" }, ONE_ACCOUNT, stricter)).toEqual([]);
  });

  it("accepts what a field rule taken out of the descriptor no longer refuses", () => {
    // Without the predefined positive_decimal rule on quantity, a zero quantity goes through.
    const looser = requestRules(
      editedPlaceOrderRequest(
        editFieldRules("quantity", (rules) => {
          rules.type = { case: undefined };
        }),
      ),
    );
    expect(violations({ quantity: "0" })).toEqual(["quantity: must be greater than zero"]);
    expect(violations({ quantity: "0" }, ONE_ACCOUNT, looser)).toEqual([]);
  });

  it("follows the message's cross-field rules from the descriptor too", () => {
    // Without order.order_type.bracket_entry, a STOP entry may carry a take-profit leg.
    const stopBracket: Partial<TicketForm> = {
      orderType: OrderType.STOP,
      stopPrice: "100",
      takeProfitEnabled: true,
      takeProfitLimitPrice: "110",
    };
    const withoutRule = requestRules(
      editedPlaceOrderRequest(
        editMessageRules((rules) => {
          const before = rules.cel.length;
          rules.cel = rules.cel.filter((rule) => rule.id !== "order.order_type.bracket_entry");
          expect(rules.cel).toHaveLength(before - 1);
        }),
      ),
    );
    expect(fields(stopBracket)).toEqual(["order_type"]);
    expect(violations(stopBracket, ONE_ACCOUNT, withoutRule)).toEqual([]);
  });
});
