import { OrderType, SecurityType, Side, TimeInForce } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import type { TicketForm } from "./ticket";
import { EMPTY_TICKET, newClientOrderId, orderNotional, toPlaceOrderRequest, withOrderType } from "./ticket";

const form = (patch: Partial<TicketForm>): TicketForm => ({ ...EMPTY_TICKET, symbol: "AAPL", quantity: "100", ...patch });

describe("orderNotional", () => {
  it("is quantity x limit price for limit orders, exactly", () => {
    expect(orderNotional(form({ orderType: OrderType.LIMIT, limitPrice: "187.25" }), "")).toEqual({
      value: "18725",
      price: "187.25",
      multiplier: "",
      priceSource: "limit price",
    });
    expect(orderNotional(form({ quantity: "3", orderType: OrderType.LIMIT, limitPrice: "0.1" }), "")?.value).toBe("0.3");
  });

  it("uses the limit price of a stop-limit and the stop price of a stop", () => {
    expect(orderNotional(form({ orderType: OrderType.STOP_LIMIT, stopPrice: "180", limitPrice: "179.5" }), "")?.price).toBe("179.5");
    expect(orderNotional(form({ orderType: OrderType.STOP, stopPrice: "180" }), "")?.priceSource).toBe("stop price");
  });

  it("falls back to the last price for market orders and trailing stops without a stop", () => {
    expect(orderNotional(form({ orderType: OrderType.MARKET }), "10.01")).toEqual({
      value: "1001",
      price: "10.01",
      multiplier: "",
      priceSource: "last price",
    });
    expect(orderNotional(form({ orderType: OrderType.TRAILING_STOP, trailingAmount: "1" }), "")).toBeUndefined();
  });

  it("includes the multiplier of derivatives", () => {
    const option = form({
      securityType: SecurityType.OPTION,
      multiplier: "100",
      quantity: "2",
      orderType: OrderType.LIMIT,
      limitPrice: "3.45",
    });
    expect(orderNotional(option, "")?.value).toBe("690");
  });
});

describe("toPlaceOrderRequest", () => {
  it("sends bracket legs only when enabled", () => {
    const plain = toPlaceOrderRequest(form({ orderType: OrderType.LIMIT, limitPrice: "100" }), "key-1");
    expect(plain.takeProfit).toBeUndefined();
    expect(plain.stopLoss).toBeUndefined();
    const bracket = toPlaceOrderRequest(
      form({
        orderType: OrderType.LIMIT,
        limitPrice: "100",
        takeProfitEnabled: true,
        takeProfitLimitPrice: "110",
        stopLossEnabled: true,
        stopLossStopPrice: "95",
        stopLossLimitPrice: "94.5",
        side: Side.BUY,
        timeInForce: TimeInForce.GTC,
      }),
      "key-2",
    );
    expect(bracket.takeProfit?.limitPrice).toBe("110");
    expect(bracket.stopLoss?.stopPrice).toBe("95");
    expect(bracket.stopLoss?.limitPrice).toBe("94.5");
    expect(bracket.timeInForce).toBe(TimeInForce.GTC);
    expect(bracket.clientOrderId).toBe("key-2");
    expect(bracket.contract?.symbol).toBe("AAPL");
    expect(bracket.contract?.securityType).toBe(SecurityType.STOCK);
  });

  it("drops derivative fields from a stock contract", () => {
    const request = toPlaceOrderRequest(form({ multiplier: "100", strike: "200" }), "key");
    expect(request.contract?.multiplier).toBe("");
    expect(request.contract?.strike).toBe("");
  });
});

describe("withOrderType", () => {
  it("clears the prices the new type does not take", () => {
    const limit = form({ orderType: OrderType.STOP_LIMIT, limitPrice: "1", stopPrice: "2" });
    expect(withOrderType(limit, OrderType.MARKET)).toMatchObject({ limitPrice: "", stopPrice: "" });
    expect(withOrderType(limit, OrderType.STOP)).toMatchObject({ limitPrice: "", stopPrice: "2" });
    const trailing = form({ orderType: OrderType.TRAILING_STOP, trailingPercent: "1" });
    expect(withOrderType(trailing, OrderType.LIMIT).trailingPercent).toBe("");
  });
});

it("client order ids match the AIP-155 key pattern", () => {
  const id = newClientOrderId();
  expect(id).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
  expect(newClientOrderId()).not.toBe(id);
});
