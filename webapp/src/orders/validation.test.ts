import { OrderType, Side } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import type { OrderDraft } from "./validation";
import { validateOrder } from "./validation";

const BASE: OrderDraft = {
  account: "",
  symbol: "AAPL",
  side: Side.BUY,
  quantity: "100",
  orderType: OrderType.MARKET,
  limitPrice: "",
  stopPrice: "",
  trailingAmount: "",
  trailingPercent: "",
  takeProfitEnabled: false,
  takeProfitLimitPrice: "",
  stopLossEnabled: false,
  stopLossStopPrice: "",
  stopLossLimitPrice: "",
};

const ONE_ACCOUNT = { managedAccounts: ["DU111"] };

function violations(patch: Partial<OrderDraft>, context = ONE_ACCOUNT) {
  return validateOrder({ ...BASE, ...patch }, context).map((violation) => `${violation.field}: ${violation.description}`);
}

function fields(patch: Partial<OrderDraft>, context = ONE_ACCOUNT) {
  return validateOrder({ ...BASE, ...patch }, context).map((violation) => violation.field);
}

describe("valid orders of every type", () => {
  it.each<[string, Partial<OrderDraft>]>([
    ["MARKET", { orderType: OrderType.MARKET }],
    ["LIMIT", { orderType: OrderType.LIMIT, limitPrice: "187.25" }],
    ["STOP", { orderType: OrderType.STOP, stopPrice: "180" }],
    ["STOP_LIMIT", { orderType: OrderType.STOP_LIMIT, stopPrice: "180", limitPrice: "179.5" }],
    ["TRAILING_STOP by amount", { orderType: OrderType.TRAILING_STOP, trailingAmount: "1.5" }],
    ["TRAILING_STOP by percent", { orderType: OrderType.TRAILING_STOP, trailingPercent: "2" }],
    ["TRAILING_STOP with initial stop", { orderType: OrderType.TRAILING_STOP, trailingPercent: "2", stopPrice: "170" }],
    ["fractional forex quantity", { quantity: "25000.5" }],
  ])("%s passes", (_name, patch) => {
    expect(violations(patch)).toEqual([]);
  });
});

describe("required fields per order type", () => {
  it("LIMIT needs limit_price", () => {
    expect(violations({ orderType: OrderType.LIMIT })).toEqual(["limit_price: is required"]);
  });

  it("STOP needs stop_price", () => {
    expect(violations({ orderType: OrderType.STOP })).toEqual(["stop_price: is required"]);
  });

  it("STOP_LIMIT needs both prices", () => {
    expect(fields({ orderType: OrderType.STOP_LIMIT })).toEqual(["limit_price", "stop_price"]);
  });

  it("TRAILING_STOP needs trailing_amount or trailing_percent", () => {
    expect(violations({ orderType: OrderType.TRAILING_STOP })).toEqual([
      "trailing_amount: is required: give trailing_amount or trailing_percent",
    ]);
  });

  it("TRAILING_STOP takes exactly one of them", () => {
    expect(violations({ orderType: OrderType.TRAILING_STOP, trailingAmount: "1", trailingPercent: "1" })).toEqual([
      "trailing_amount: give trailing_amount or trailing_percent, not both",
    ]);
  });

  it("an unspecified order type is refused", () => {
    expect(fields({ orderType: OrderType.UNSPECIFIED })).toEqual(["order_type"]);
  });

  it("an order type this client does not know is refused, not crashed on", () => {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a value from a newer contract.
    expect(fields({ orderType: 99 as OrderType })).toEqual(["order_type"]);
  });
});

describe("prices an order type does not take", () => {
  it.each<[string, Partial<OrderDraft>, string[]]>([
    ["limit on MARKET", { orderType: OrderType.MARKET, limitPrice: "1" }, ["limit_price: is not allowed for MARKET orders"]],
    ["stop on MARKET", { orderType: OrderType.MARKET, stopPrice: "1" }, ["stop_price: is not allowed for MARKET orders"]],
    ["stop on LIMIT", { orderType: OrderType.LIMIT, limitPrice: "1", stopPrice: "1" }, ["stop_price: is not allowed for LIMIT orders"]],
    ["limit on STOP", { orderType: OrderType.STOP, stopPrice: "1", limitPrice: "1" }, ["limit_price: is not allowed for STOP orders"]],
    ["trailing on LIMIT", { orderType: OrderType.LIMIT, limitPrice: "1", trailingAmount: "1" }, ["trailing_amount: is not allowed for LIMIT orders"]],
    ["trailing % on STOP_LIMIT", { orderType: OrderType.STOP_LIMIT, limitPrice: "1", stopPrice: "1", trailingPercent: "1" }, ["trailing_percent: is not allowed for STOP_LIMIT orders"]],
    ["limit on TRAILING_STOP", { orderType: OrderType.TRAILING_STOP, trailingAmount: "1", limitPrice: "1" }, ["limit_price: is not allowed for TRAILING_STOP orders"]],
  ])("%s is refused", (_name, patch, expected) => {
    expect(violations(patch)).toEqual(expected);
  });
});

describe("quantity", () => {
  it.each(["0", "-1", "0.000"])("must be greater than zero: %s", (quantity) => {
    expect(violations({ quantity })).toEqual(["quantity: must be greater than zero"]);
  });

  it("is required", () => {
    expect(violations({ quantity: "" })).toEqual(["quantity: is required"]);
  });

  it.each(["1e3", "1,000", "10.", "abc"])("must be plain decimal: %s", (quantity) => {
    expect(fields({ quantity })).toEqual(["quantity"]);
    expect(violations({ quantity })[0]).toContain("plain decimal");
  });
});

describe("prices are plain positive decimals", () => {
  it.each<[string, Partial<OrderDraft>]>([
    ["limit_price", { orderType: OrderType.LIMIT, limitPrice: "1.2e2" }],
    ["stop_price", { orderType: OrderType.STOP, stopPrice: "1,5" }],
    ["trailing_amount", { orderType: OrderType.TRAILING_STOP, trailingAmount: ".5" }],
    ["trailing_percent", { orderType: OrderType.TRAILING_STOP, trailingPercent: "1%" }],
  ])("%s", (field, patch) => {
    expect(fields(patch)).toEqual([field]);
  });

  it("a zero limit price is refused", () => {
    expect(violations({ orderType: OrderType.LIMIT, limitPrice: "0" })).toEqual(["limit_price: must be greater than zero"]);
  });

  it("a negative trailing percent is refused", () => {
    expect(violations({ orderType: OrderType.TRAILING_STOP, trailingPercent: "-1" })).toEqual([
      "trailing_percent: must be greater than zero",
    ]);
  });
});

describe("contract, side and account", () => {
  it("needs a symbol", () => {
    expect(violations({ symbol: " " })).toEqual(["contract.symbol: is required"]);
  });

  it("needs a side", () => {
    expect(violations({ side: Side.UNSPECIFIED })).toEqual(["side: is required"]);
  });

  it("needs an account when the gateway manages several", () => {
    expect(violations({}, { managedAccounts: ["DU111", "DU222"] })).toEqual([
      "account: is required: the gateway manages more than one account",
    ]);
    expect(violations({ account: "DU222" }, { managedAccounts: ["DU111", "DU222"] })).toEqual([]);
  });

  it("refuses an account the gateway does not manage", () => {
    expect(violations({ account: "DU999" })).toEqual(["account: is not one of the gateway's managed accounts"]);
  });
});

describe("bracket legs", () => {
  const buyLimit: Partial<OrderDraft> = { orderType: OrderType.LIMIT, limitPrice: "100" };
  const sellLimit: Partial<OrderDraft> = { ...buyLimit, side: Side.SELL };
  const legs = (takeProfit: string, stopLoss: string): Partial<OrderDraft> => ({
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

  it("refuses a buy take-profit at or below the entry", () => {
    expect(violations({ ...buyLimit, ...legs("100", "-") })).toEqual([
      "take_profit.limit_price: must be above the entry price of a buy bracket",
    ]);
  });

  it("refuses a buy stop-loss at or above the entry", () => {
    expect(violations({ ...buyLimit, ...legs("-", "101") })).toEqual([
      "stop_loss.stop_price: must be below the entry price of a buy bracket",
    ]);
  });

  it("refuses a sell take-profit above the entry", () => {
    expect(violations({ ...sellLimit, ...legs("101", "-") })).toEqual([
      "take_profit.limit_price: must be below the entry price of a sell bracket",
    ]);
  });

  it("refuses a sell stop-loss below the entry", () => {
    expect(violations({ ...sellLimit, ...legs("-", "99") })).toEqual([
      "stop_loss.stop_price: must be above the entry price of a sell bracket",
    ]);
  });

  it("checks a STOP entry against its stop price", () => {
    expect(fields({ orderType: OrderType.STOP, stopPrice: "100", ...legs("99", "-") })).toEqual(["take_profit.limit_price"]);
  });

  it("checks the legs against each other when a market order has no entry price", () => {
    expect(violations({ ...legs("95", "100") })).toEqual([
      "take_profit.limit_price: must be above the stop-loss price of a buy bracket",
    ]);
    expect(violations({ ...legs("105", "100") })).toEqual([]);
  });

  it("compares prices as decimals, not as text", () => {
    // "9.5" > "10" as text; as numbers it is below.
    expect(violations({ orderType: OrderType.LIMIT, limitPrice: "9.75", ...legs("10", "9.5") })).toEqual([]);
  });

  it("needs the price of an enabled leg", () => {
    expect(violations({ ...buyLimit, ...legs("", "") })).toEqual([
      "take_profit.limit_price: is required",
      "stop_loss.stop_price: is required",
    ]);
  });

  it("checks the optional stop-loss limit as a decimal", () => {
    expect(fields({ ...buyLimit, ...legs("-", "95"), stopLossLimitPrice: "9e1" })).toEqual(["stop_loss.limit_price"]);
    expect(violations({ ...buyLimit, ...legs("-", "95"), stopLossLimitPrice: "94.5" })).toEqual([]);
  });
});
