// Price changes for display: exact differences, and percentages rounded to two places (a
// percentage is a ratio, so it is the one place a decimal division is needed).
import type { Decimal } from "../lib/decimal";
import { parseDecimal, sign, subtract, toPlainString } from "../lib/decimal";

/** last - previous close, exactly; "" when either is unknown. */
export function priceChange(last: string, close: string): string {
  const a = parseDecimal(last);
  const b = parseDecimal(close);
  return a === undefined || b === undefined ? "" : toPlainString(subtract(a, b));
}

/**
 * part / whole x 100, rounded half away from zero to `places` decimals, as a plain decimal
 * string; "" when whole is zero or either is not a number.
 */
export function percentOf(part: Decimal, whole: Decimal, places = 2): string {
  if (whole.units === 0n) {
    return "";
  }
  // Both to one scale, then (part x 100 x 10^places) / whole in integers.
  const scale = Math.max(part.scale, whole.scale);
  const p = part.units * 10n ** BigInt(scale - part.scale);
  const w = whole.units * 10n ** BigInt(scale - whole.scale);
  const numerator = p * 100n * 10n ** BigInt(places);
  const negative = (numerator < 0n) !== (w < 0n);
  const n = numerator < 0n ? -numerator : numerator;
  const d = w < 0n ? -w : w;
  let quotient = n / d;
  if ((n % d) * 2n >= d) {
    quotient += 1n;
  }
  const value: Decimal = { units: negative ? -quotient : quotient, scale: places };
  return sign(value) === 0 ? "0" : toPlainString(value);
}

/** (last - close) / close in percent, two places; "" when unknown. */
export function percentChange(last: string, close: string): string {
  const a = parseDecimal(last);
  const b = parseDecimal(close);
  return a === undefined || b === undefined ? "" : percentOf(subtract(a, b), b);
}
