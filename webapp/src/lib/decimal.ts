// Exact decimal arithmetic on the API's decimal strings ("187.25"). Money never goes through a JS
// number: values are a bigint of units and a scale (the count of digits after the point).

/** The server's own rule for a plain decimal string: no exponent, at most 18 + 10 digits. */
const PLAIN_DECIMAL = /^-?[0-9]{1,18}(\.[0-9]{1,10})?$/;
/** Looser form for reading values the server sends (already plain, possibly longer). */
const ANY_PLAIN_DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

/** True when `text` is a decimal string the server accepts in a request. */
export function isPlainDecimal(text: string): boolean {
  return PLAIN_DECIMAL.test(text);
}

/** The decimal in `text`, or undefined when it is empty or not plain decimal notation. */
export function parseDecimal(text: string): Decimal | undefined {
  const trimmed = text.trim();
  if (!ANY_PLAIN_DECIMAL.test(trimmed)) {
    return undefined;
  }
  const negative = trimmed.startsWith("-");
  const digits = negative ? trimmed.slice(1) : trimmed;
  const [whole = "0", fraction = ""] = digits.split(".");
  const units = BigInt(whole + fraction);
  return { units: negative ? -units : units, scale: fraction.length };
}

function pow10(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

function align(left: Decimal, right: Decimal): [bigint, bigint, number] {
  const scale = Math.max(left.scale, right.scale);
  return [
    left.units * pow10(scale - left.scale),
    right.units * pow10(scale - right.scale),
    scale,
  ];
}

export function add(left: Decimal, right: Decimal): Decimal {
  const [a, b, scale] = align(left, right);
  return { units: a + b, scale };
}

export function subtract(left: Decimal, right: Decimal): Decimal {
  const [a, b, scale] = align(left, right);
  return { units: a - b, scale };
}

export function multiply(left: Decimal, right: Decimal): Decimal {
  return { units: left.units * right.units, scale: left.scale + right.scale };
}

/** -1, 0 or 1, as for a sort comparator. */
export function compare(left: Decimal, right: Decimal): number {
  const [a, b] = align(left, right);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sign(value: Decimal): number {
  return value.units < 0n ? -1 : value.units > 0n ? 1 : 0;
}

/** Plain notation, trailing fractional zeros removed: multiply("1.50", "2") is "3". */
export function toPlainString(value: Decimal): string {
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, "0");
  const whole = digits.slice(0, digits.length - value.scale);
  const fraction = digits.slice(digits.length - value.scale).replace(/0+$/, "");
  const text = fraction === "" ? whole : `${whole}.${fraction}`;
  return negative && text !== "0" ? `-${text}` : text;
}

/** Compares two decimal strings; empty or malformed strings sort after every number. */
export function compareDecimalStrings(left: string, right: string): number {
  const a = parseDecimal(left);
  const b = parseDecimal(right);
  if (a === undefined || b === undefined) {
    return a === undefined ? (b === undefined ? 0 : 1) : -1;
  }
  return compare(a, b);
}

export interface FormatOptions {
  /** Pad the fraction to at least this many digits (money: 2). */
  readonly minimumFractionDigits?: number;
  /** Group the whole part in thousands with commas. */
  readonly grouping?: boolean;
  /** Prefix positive values with "+" (PnL). */
  readonly signed?: boolean;
}

/**
 * A decimal string for display, exactly: never rounds, only pads and groups. Returns the input
 * unchanged when it is not a decimal, and "" for "".
 */
export function formatDecimal(text: string, options: FormatOptions = {}): string {
  const value = parseDecimal(text);
  if (value === undefined) {
    return text;
  }
  const plain = toPlainString(value);
  const negative = plain.startsWith("-");
  const [whole = "0", fraction = ""] = (negative ? plain.slice(1) : plain).split(".");
  const paddedFraction = fraction.padEnd(options.minimumFractionDigits ?? 0, "0");
  const groupedWhole = options.grouping === true ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : whole;
  const body = paddedFraction === "" ? groupedWhole : `${groupedWhole}.${paddedFraction}`;
  const prefix = negative ? "-" : options.signed === true && value.units !== 0n ? "+" : "";
  return prefix + body;
}

/** Money for tables: grouped, at least two decimals. */
export function formatMoney(text: string, signed = false): string {
  return formatDecimal(text, { minimumFractionDigits: 2, grouping: true, signed });
}

/** "positive" | "negative" | "zero" | "none", for colouring PnL cells. */
export function signClass(text: string): "positive" | "negative" | "zero" | "none" {
  const value = parseDecimal(text);
  if (value === undefined) {
    return "none";
  }
  const valueSign = sign(value);
  return valueSign > 0 ? "positive" : valueSign < 0 ? "negative" : "zero";
}

/**
 * The colour class of a cost, where more is worse for the trader (a fill's slippage): red when
 * positive, green when negative, the reverse of signClass.
 */
export function costClass(text: string): "positive" | "negative" | "zero" | "none" {
  const signed = signClass(text);
  return signed === "positive" ? "negative" : signed === "negative" ? "positive" : signed;
}
