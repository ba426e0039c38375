import { ConnectionStateSchema, OrderStatus, OrderStatusSchema, TimeInForceSchema } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { enumFromText, enumLabel, enumName, isKnownValue, specifiedValues } from "./enums";

describe("enum display", () => {
  it("drops the shared prefix", () => {
    expect(enumName(OrderStatusSchema, OrderStatus.PARTIALLY_FILLED)).toBe("PARTIALLY_FILLED");
    expect(enumLabel(OrderStatusSchema, OrderStatus.PARTIALLY_FILLED)).toBe("PARTIALLY FILLED");
  });

  it("tolerates values added to the contract after this client was built", () => {
    expect(enumName(ConnectionStateSchema, 42)).toBe("UNKNOWN (42)");
    expect(isKnownValue(ConnectionStateSchema, 42)).toBe(false);
    expect(enumFromText(TimeInForceSchema, "42")).toBe(0);
    expect(enumFromText(TimeInForceSchema, "garbage")).toBe(0);
    expect(enumFromText(TimeInForceSchema, "2")).toBe(2);
  });

  it("lists the specified values in order", () => {
    expect(specifiedValues(TimeInForceSchema).map((value) => enumName(TimeInForceSchema, value))).toEqual([
      "DAY",
      "GTC",
      "IOC",
      "FOK",
    ]);
  });
});
