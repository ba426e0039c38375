import { describe, expect, it } from "vitest";
import { parseDecimal } from "../lib/decimal";
import { percentChange, percentOf, priceChange } from "./change";

function decimal(text: string) {
  const value = parseDecimal(text);
  if (value === undefined) {
    throw new Error(text);
  }
  return value;
}

describe("price changes", () => {
  it("subtracts exactly", () => {
    expect(priceChange("190.11", "190")).toBe("0.11");
    expect(priceChange("", "190")).toBe("");
  });

  it("rounds percentages half away from zero to two places", () => {
    expect(percentOf(decimal("1"), decimal("3"))).toBe("33.33");
    expect(percentOf(decimal("2"), decimal("3"))).toBe("66.67");
    expect(percentOf(decimal("-2"), decimal("3"))).toBe("-66.67");
    expect(percentOf(decimal("0.005"), decimal("100"))).toBe("0.01");
    expect(percentOf(decimal("-0.004"), decimal("100"))).toBe("0");
    expect(percentOf(decimal("1"), decimal("0"))).toBe("");
    expect(percentOf(decimal("5"), decimal("-100"))).toBe("-5");
  });

  it("gives the change from the previous close in percent", () => {
    expect(percentChange("10.01", "9.50")).toBe("5.37");
    expect(percentChange("95", "100")).toBe("-5");
    expect(percentChange("95", "")).toBe("");
  });
});
