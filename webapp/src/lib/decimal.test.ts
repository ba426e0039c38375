import { describe, expect, it } from "vitest";
import {
  add,
  compare,
  compareDecimalStrings,
  costClass,
  formatDecimal,
  formatMoney,
  isPlainDecimal,
  multiply,
  parseDecimal,
  signClass,
  subtract,
  toPlainString,
} from "./decimal";

function decimal(text: string) {
  const value = parseDecimal(text);
  if (value === undefined) {
    throw new Error(`not a decimal: ${text}`);
  }
  return value;
}

describe("isPlainDecimal", () => {
  it.each(["187.25", "-3", "0.0001", "0", "123456789012345678", "1.1234567890"])("accepts %s", (text) => {
    expect(isPlainDecimal(text)).toBe(true);
  });

  it.each(["", "1e5", "1E-2", "1.", ".5", " 1", "1 ", "1,000", "+1", "0x10", "NaN", "Infinity", "1234567890123456789", "1.12345678901"])(
    "rejects %j",
    (text) => {
      expect(isPlainDecimal(text)).toBe(false);
    },
  );
});

describe("arithmetic", () => {
  it("adds without float error", () => {
    expect(toPlainString(add(decimal("0.1"), decimal("0.2")))).toBe("0.3");
  });

  it("subtracts across scales and signs", () => {
    expect(toPlainString(subtract(decimal("10.01"), decimal("9.5")))).toBe("0.51");
    expect(toPlainString(subtract(decimal("9.5"), decimal("10.01")))).toBe("-0.51");
    expect(toPlainString(subtract(decimal("1.5"), decimal("1.50")))).toBe("0");
  });

  it("multiplies exactly", () => {
    expect(toPlainString(multiply(decimal("100"), decimal("187.25")))).toBe("18725");
    expect(toPlainString(multiply(decimal("3"), decimal("0.1")))).toBe("0.3");
    expect(toPlainString(multiply(decimal("0.0001"), decimal("0.0001")))).toBe("0.00000001");
    expect(toPlainString(multiply(decimal("-2.5"), decimal("4")))).toBe("-10");
    // Far past Number.MAX_SAFE_INTEGER: still exact.
    expect(toPlainString(multiply(decimal("123456789012345678"), decimal("1000.0000000001")))).toBe(
      "123456789012358023678.9012345678",
    );
  });

  it("compares numerically, not textually", () => {
    expect(compare(decimal("9.5"), decimal("10"))).toBe(-1);
    expect(compare(decimal("10.50"), decimal("10.5"))).toBe(0);
    expect(compare(decimal("-1"), decimal("-2"))).toBe(1);
  });

  it("sorts empty and malformed strings after numbers", () => {
    expect(["3", "", "-1", "x", "10"].sort(compareDecimalStrings)).toEqual(["-1", "3", "10", "", "x"]);
  });
});

describe("formatting", () => {
  it("groups and pads without rounding", () => {
    expect(formatMoney("1234567.891")).toBe("1,234,567.891");
    expect(formatMoney("18725")).toBe("18,725.00");
    expect(formatMoney("-0.5")).toBe("-0.50");
    expect(formatDecimal("1000000", { grouping: true })).toBe("1,000,000");
  });

  it("signs PnL", () => {
    expect(formatMoney("12.3", true)).toBe("+12.30");
    expect(formatMoney("-12.3", true)).toBe("-12.30");
    expect(formatMoney("0", true)).toBe("0.00");
    expect(signClass("-0.01")).toBe("negative");
    expect(signClass("0.00")).toBe("zero");
    expect(signClass("")).toBe("none");
  });

  it("colours a cost the other way round: more is worse", () => {
    expect(costClass("0.05")).toBe("negative");
    expect(costClass("-0.05")).toBe("positive");
    expect(costClass("0")).toBe("zero");
    expect(costClass("")).toBe("none");
  });

  it("leaves what is not a decimal alone", () => {
    expect(formatMoney("")).toBe("");
    expect(formatMoney("n/a")).toBe("n/a");
  });
});
