import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { TickValue, tickDirection } from "./TickValue";

describe("tick flash", () => {
  it("compares decimal strings, not their text", () => {
    expect(tickDirection("9.9", "10.00")).toBe("up");
    expect(tickDirection("10.00", "10")).toBe("");
    expect(tickDirection("10", "9.99")).toBe("down");
    expect(tickDirection("", "9.99")).toBe("");
  });

  it("flashes up or down when the value changes, and keeps the direction until the next tick", () => {
    const { rerender } = render(<TickValue value="10.00" testId="price" />);
    expect(screen.getByTestId("price").getAttribute("data-tick")).toBeNull();
    rerender(<TickValue value="10.01" testId="price" />);
    expect(screen.getByTestId("price").className).toBe("tick-up");
    rerender(<TickValue value="10.005" testId="price" />);
    expect(screen.getByTestId("price").className).toBe("tick-down");
    expect(screen.getByTestId("price").textContent).toBe("10.005");
  });
});
