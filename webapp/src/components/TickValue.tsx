// A live price that flashes green or red for a moment when it moves up or down. The direction
// is derived while rendering (the previous value is kept in state, React's pattern for values
// that depend on the last render); a new key restarts the CSS animation on every tick.
import { useState } from "react";
import { compareDecimalStrings } from "../lib/decimal";

export type TickDirection = "up" | "down" | "";

/** The direction from `previous` to `next`; "" when either is not a number or they are equal. */
export function tickDirection(previous: string, next: string): TickDirection {
  if (previous === "" || next === "") {
    return "";
  }
  const order = compareDecimalStrings(next, previous);
  return order > 0 ? "up" : order < 0 ? "down" : "";
}

export interface TickValueProps {
  readonly value: string;
  /** How to show it; the value itself by default. */
  readonly format?: (value: string) => string;
  readonly className?: string;
  readonly testId?: string;
}

export function TickValue({ value, format, className = "", testId }: TickValueProps) {
  const [seen, setSeen] = useState({ value, direction: "" as TickDirection, ticks: 0 });
  if (seen.value !== value) {
    const direction = tickDirection(seen.value, value);
    setSeen({ value, direction, ticks: direction === "" ? seen.ticks : seen.ticks + 1 });
  }
  const flash = seen.direction === "" ? "" : `tick-${seen.direction}`;
  return (
    <span
      key={seen.ticks}
      className={`${className} ${flash}`.trim()}
      data-testid={testId}
      data-tick={seen.direction === "" ? undefined : seen.direction}
    >
      {format === undefined ? value : format(value)}
    </span>
  );
}
