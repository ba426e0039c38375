// The arithmetic of a multi-leg (combination) order, exact on the API's decimal strings: the net
// price of one combination from its legs' quotes (mid and natural), and its largest profit and
// loss at expiry when every leg is an option of one underlying and one expiry.
import type { Contract } from "@ibkr-grpc/client";
import { OptionRight, SecurityType, Side } from "@ibkr-grpc/client";
import type { Decimal } from "../lib/decimal";
import { add, compare, multiply, parseDecimal, sign, subtract, toPlainString } from "../lib/decimal";

/** One leg as the spread ticket holds it: bought or sold when the combination is bought. */
export interface SpreadLeg {
  readonly contract: Contract;
  readonly side: Side;
  /** How many per combination, 1 or more. */
  readonly ratio: number;
}

/** A leg's touch: its best bid and ask, decimal strings ("" when unknown). */
export interface LegQuote {
  readonly bid: string;
  readonly ask: string;
}

export interface NetPrices {
  /** Per combination and unit, signed: positive is a debit, negative a credit. "" if unknown. */
  readonly mid: string;
  /** Buying every bought leg at its ask and selling every sold leg at its bid. */
  readonly natural: string;
}

const ZERO: Decimal = { units: 0n, scale: 0 };
const HALF: Decimal = { units: 5n, scale: 1 };

function signed(side: Side, ratio: number, value: Decimal): Decimal {
  const weighted = multiply(value, { units: BigInt(ratio), scale: 0 });
  return side === Side.SELL ? { units: -weighted.units, scale: weighted.scale } : weighted;
}

/**
 * The net prices of one combination bought (the order's side BUY): each leg's price times its
 * ratio, added for a leg bought and subtracted for a leg sold, as PlaceOrderRequest.limit_price
 * counts it. The mid uses each leg's midpoint; the natural pays the ask and receives the bid.
 */
export function netPrices(legs: readonly SpreadLeg[], quotes: readonly (LegQuote | undefined)[]): NetPrices {
  let mid: Decimal | undefined = legs.length === 0 ? undefined : ZERO;
  let natural: Decimal | undefined = mid;
  legs.forEach((leg, index) => {
    const bid = parseDecimal(quotes[index]?.bid ?? "");
    const ask = parseDecimal(quotes[index]?.ask ?? "");
    if (bid === undefined || ask === undefined) {
      mid = undefined;
      natural = undefined;
      return;
    }
    if (mid !== undefined) {
      mid = add(mid, signed(leg.side, leg.ratio, multiply(add(bid, ask), HALF)));
    }
    if (natural !== undefined) {
      natural = add(natural, signed(leg.side, leg.ratio, leg.side === Side.BUY ? ask : bid));
    }
  });
  return {
    mid: mid === undefined ? "" : toPlainString(mid),
    natural: natural === undefined ? "" : toPlainString(natural),
  };
}

/**
 * `text` rounded to `places` decimals, halves away from zero ("1.235" -> "1.24", "-1.235" ->
 * "-1.24"); "" when it is not a decimal.
 */
export function roundDecimal(text: string, places: number): string {
  const value = parseDecimal(text);
  if (value === undefined) {
    return "";
  }
  if (value.scale <= places) {
    return toPlainString(value);
  }
  const divisor = 10n ** BigInt(value.scale - places);
  const magnitude = value.units < 0n ? -value.units : value.units;
  const rounded = (magnitude + divisor / 2n) / divisor;
  return toPlainString({ units: value.units < 0n ? -rounded : rounded, scale: places });
}

/** "Debit 1.25", "Credit 1.20", "Even": what a signed net price means for the trader. */
export function describeNetPrice(text: string): string {
  const value = parseDecimal(text);
  if (value === undefined) {
    return "";
  }
  const magnitude = toPlainString({ units: value.units < 0n ? -value.units : value.units, scale: value.scale });
  return sign(value) > 0 ? `Debit ${magnitude}` : sign(value) < 0 ? `Credit ${magnitude}` : "Even (0)";
}

/** A figure of the payoff: a decimal amount, or unbounded. */
export type PayoffFigure = { readonly kind: "amount"; readonly value: string } | { readonly kind: "unbounded" };

export type PayoffRange =
  | {
      readonly kind: "computed";
      /** The most the position can make at expiry, money (net price, ratios, multiplier, quantity). */
      readonly maxProfit: PayoffFigure;
      /** The most it can lose, as a positive amount of money. */
      readonly maxLoss: PayoffFigure;
    }
  | { readonly kind: "not computed"; readonly reason: string };

function isOption(contract: Contract): boolean {
  return contract.securityType === SecurityType.OPTION || contract.securityType === SecurityType.FUTURE_OPTION;
}

/** The legs' payoff per unit at expiry with the underlying at `price`, before the net price. */
function payoffAt(legs: readonly { strike: Decimal; call: boolean; weight: Decimal }[], price: Decimal): Decimal {
  return legs.reduce((total, leg) => {
    const intrinsic = leg.call ? subtract(price, leg.strike) : subtract(leg.strike, price);
    return sign(intrinsic) > 0 ? add(total, multiply(leg.weight, intrinsic)) : total;
  }, ZERO);
}

/**
 * Largest profit and loss at expiry of `quantity` combinations bought at `netPrice` (signed,
 * positive a debit). The payoff of options of one underlying and expiry is linear between
 * strikes, so its extremes are at a price of 0, at a strike, or unbounded above the highest
 * strike when the calls there do not net out. Anything else (legs that are not options, several
 * expiries or underlyings) is not computed.
 */
export function payoffRange(legs: readonly SpreadLeg[], netPrice: string, quantity: string): PayoffRange {
  const net = parseDecimal(netPrice);
  const count = parseDecimal(quantity);
  if (legs.length === 0) {
    return { kind: "not computed", reason: "no legs" };
  }
  if (net === undefined || count === undefined) {
    return { kind: "not computed", reason: "needs a net price and a quantity" };
  }
  const first = legs[0]?.contract;
  if (first === undefined || !legs.every((leg) => isOption(leg.contract))) {
    return { kind: "not computed", reason: "only for options" };
  }
  const sameSeries = legs.every(
    (leg) =>
      leg.contract.symbol === first.symbol &&
      leg.contract.lastTradeDateOrContractMonth === first.lastTradeDateOrContractMonth &&
      leg.contract.multiplier === first.multiplier,
  );
  if (!sameSeries) {
    return { kind: "not computed", reason: "legs of several expiries or underlyings" };
  }
  const multiplier = parseDecimal(first.multiplier === "" ? "1" : first.multiplier);
  const parsed = legs.map((leg) => ({
    strike: parseDecimal(leg.contract.strike),
    call: leg.contract.right === OptionRight.CALL,
    known: leg.contract.right !== OptionRight.UNSPECIFIED,
    weight: signed(leg.side, leg.ratio, { units: 1n, scale: 0 }),
  }));
  if (multiplier === undefined || parsed.some((leg) => leg.strike === undefined || !leg.known)) {
    return { kind: "not computed", reason: "a leg without strike or right" };
  }
  const options = parsed.map((leg) => ({ strike: leg.strike ?? ZERO, call: leg.call, weight: leg.weight }));
  const slopeAboveStrikes = options
    .filter((leg) => leg.call)
    .reduce((total, leg) => add(total, leg.weight), ZERO);
  const outcomes = [ZERO, ...options.map((leg) => leg.strike)].map((price) => subtract(payoffAt(options, price), net));
  const best = outcomes.reduce((left, right) => (compare(left, right) >= 0 ? left : right));
  const worst = outcomes.reduce((left, right) => (compare(left, right) <= 0 ? left : right));
  const money = (perUnit: Decimal) => toPlainString(multiply(multiply(perUnit, multiplier), count));
  const loss = sign(worst) < 0 ? { units: -worst.units, scale: worst.scale } : ZERO;
  return {
    kind: "computed",
    maxProfit: sign(slopeAboveStrikes) > 0 ? { kind: "unbounded" } : { kind: "amount", value: money(best) },
    maxLoss: sign(slopeAboveStrikes) < 0 ? { kind: "unbounded" } : { kind: "amount", value: money(loss) },
  };
}
