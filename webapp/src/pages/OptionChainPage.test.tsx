import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, OptionRight, OrderStatus, PlaceOrderResponseSchema, Side } from "@ibkr-grpc/client";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { FakeBackend, order } from "../test/fakeBackend";
import { EXPIRATIONS, UNDERLYING_CON_ID, optionConId } from "../test/fakeDerivatives";
import { renderApp } from "../test/renderApp";

async function openChain() {
  const user = userEvent.setup();
  const backend = new FakeBackend();
  renderApp({ page: "options", backend });
  await user.type(screen.getByTestId("chain-symbol"), "aapl");
  await user.click(screen.getByTestId("chain-load"));
  await screen.findByTestId("chain-row-190");
  return { user, backend };
}

/** Buy the 170 put, sell the 180 put, sell the 200 call, buy the 210 call. */
async function pickIronCondor(user: ReturnType<typeof userEvent.setup>) {
  for (const id of ["leg-buy-put-170", "leg-sell-put-180", "leg-sell-call-200", "leg-buy-call-210"]) {
    await user.click(screen.getByTestId(id));
  }
}

describe("the option chain page", () => {
  it("resolves the stock, streams the SMART chain of the first expiration and shows calls and puts by strike", async () => {
    const { backend } = await openChain();
    expect(backend.derivatives.detailsRequests[0]?.contract?.symbol).toBe("AAPL");
    const request = backend.derivatives.chainRequests[0];
    expect([request?.underlying?.conId, request?.expiration, request?.exchange, request?.strikesPerSide]).toEqual([
      UNDERLYING_CON_ID,
      EXPIRATIONS[0],
      "SMART",
      5,
    ]);
    const atm = screen.getByTestId("chain-row-190");
    expect(atm.getAttribute("data-atm")).toBe("true");
    // The 190 call: bid 3.00, ask 3.10, IV 25.0%, delta 0.50; the put likewise, delta -0.50.
    expect(within(atm).getByTestId("call-bid").textContent).toBe("3.00");
    expect(within(atm).getByTestId("call-ask").textContent).toBe("3.10");
    expect(within(atm).getByTestId("call-iv").textContent).toBe("25.0%");
    expect(within(atm).getByTestId("put-delta").textContent).toBe("-0.50");
    expect(screen.getAllByTestId(/^chain-row-/).map((row) => row.getAttribute("data-testid"))).toEqual(
      ["170", "180", "190", "200", "210"].map((strike) => `chain-row-${strike}`),
    );
    expect(screen.getByTestId("chain-underlying").textContent).toContain("190.00 / 190.10");
    await waitFor(() => {
      expect(screen.getByTestId("chain-state").textContent).toBe("Live");
    });
  });

  it("another expiration opens another chain stream", async () => {
    const { user, backend } = await openChain();
    await user.selectOptions(screen.getByTestId("chain-expiration"), EXPIRATIONS[1] ?? "");
    await waitFor(() => {
      expect(backend.derivatives.chainRequests.at(-1)?.expiration).toBe(EXPIRATIONS[1]);
    });
  });

  it("prices an iron condor from the chain: mid and natural, max profit and max loss", async () => {
    const { user } = await openChain();
    await pickIronCondor(user);
    expect(screen.getAllByTestId("spread-leg")).toHaveLength(4);
    // Quotes (bid/ask): 170P 1.00/1.10, 180P 2.00/2.10, 200C 2.00/2.10, 210C 1.00/1.10.
    // Natural: 1.10 - 2.00 - 2.00 + 1.10 = -1.80; mid: 1.05 - 2.05 - 2.05 + 1.05 = -2.00.
    expect(screen.getByTestId("spread-natural").textContent).toBe("Credit 1.8");
    expect(screen.getByTestId("spread-mid").textContent).toBe("Credit 2");
    await user.click(screen.getByTestId("spread-use-natural"));
    expect(screen.getByTestId<HTMLInputElement>("spread-limit-price").value).toBe("-1.8");
    expect(screen.getByTestId("spread-limit-meaning").textContent).toBe(
      "Credit 1.8 per unit: receive at least 180.00 USD a combination",
    );
    // Credit 1.80 kept between 180 and 200; the 10-wide wings lose 8.20 at most (x100).
    expect(screen.getByTestId("spread-max-profit").textContent).toBe("180.00 USD");
    expect(screen.getByTestId("spread-max-loss").textContent).toBe("820.00 USD");
    // A leg sold twice is a ratio spread: the loss above the calls has no bound.
    await user.click(screen.getAllByTestId("spread-leg-remove")[3] as HTMLElement);
    expect(screen.getByTestId("spread-max-loss").textContent).toBe("unbounded");
  });

  it("places the spread as one order with its legs, retries with the same client order id, and shows a refusal", async () => {
    const { user, backend } = await openChain();
    backend.placeOrder = () => {
      throw new ConnectError("naked short option", Code.FailedPrecondition, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "POSITION_LIMIT_EXCEEDED", domain: "ibkr.v1" } },
      ]);
    };
    await pickIronCondor(user);
    await user.click(screen.getByTestId("spread-use-natural"));
    await user.click(screen.getByTestId("spread-review"));
    expect(screen.getByTestId("spread-confirm-summary").textContent).toBe(
      "BUY 1 × [+1 AAPL 20260320 170 P, -1 AAPL 20260320 180 P, -1 AAPL 20260320 200 C, +1 AAPL 20260320 210 C] LIMIT Credit 1.8 DAY",
    );
    await user.click(screen.getByTestId("spread-confirm-submit"));
    const refusal = await screen.findByTestId("spread-server-error");
    expect(within(refusal).getByTestId("error-reason").textContent).toContain("POSITION_LIMIT_EXCEEDED");
    const first = backend.placedOrders[0];
    expect(first?.contract).toBeUndefined();
    expect([first?.side, first?.quantity, first?.limitPrice]).toEqual([Side.BUY, "1", "-1.8"]);
    expect(first?.legs.map((leg) => [leg.contract?.conId, leg.side, leg.ratio])).toEqual([
      [optionConId("170", OptionRight.PUT), Side.BUY, 1],
      [optionConId("180", OptionRight.PUT), Side.SELL, 1],
      [optionConId("200", OptionRight.CALL), Side.SELL, 1],
      [optionConId("210", OptionRight.CALL), Side.BUY, 1],
    ]);
    expect(first?.clientOrderId).toMatch(/^web-/);

    // The same spread again: the same idempotency key. Once IB has it, the next is a new order.
    backend.placeOrder = (request) =>
      create(PlaceOrderResponseSchema, {
        order: order("ord_condor", { status: OrderStatus.SUBMITTED, quantity: request.quantity, legs: request.legs }),
      });
    await user.click(screen.getByTestId("spread-review"));
    await user.click(screen.getByTestId("spread-confirm-submit"));
    expect((await screen.findByTestId("spread-result")).textContent).toContain("ord_condor");
    expect(screen.getByTestId("spread-result").textContent).toContain("4 legs");
    expect(backend.placedOrders[1]?.clientOrderId).toBe(first?.clientOrderId);
    await user.click(screen.getByTestId("spread-review"));
    await user.click(screen.getByTestId("spread-confirm-submit"));
    await waitFor(() => {
      expect(backend.placedOrders).toHaveLength(3);
    });
    expect(backend.placedOrders[2]?.clientOrderId).not.toBe(first?.clientOrderId);
  });

  it("says what is missing before sending anything, at the inputs it is about (the contract's PlaceOrder rules)", async () => {
    const { user, backend } = await openChain();
    await user.click(screen.getByTestId("leg-buy-call-190"));
    await user.click(screen.getByTestId("spread-review"));
    expect(screen.getByTestId("error-legs").textContent).toBe("a multi-leg order has 2 to 8 legs");
    expect(screen.getByTestId("error-limit_price").textContent).toBe("is required for LIMIT orders");
    expect(screen.getByTestId("spread-limit-price").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("spread-problems").textContent).toContain("legs: a multi-leg order has 2 to 8 legs");

    // A second leg sold twice as often, then emptied: the ratio's rule shows in its row.
    await user.click(screen.getByTestId("leg-sell-call-200"));
    const ratio = screen.getAllByTestId("spread-leg-ratio")[1] as HTMLElement;
    await user.clear(ratio);
    await user.clear(screen.getByTestId("spread-quantity"));
    await user.type(screen.getByTestId("spread-quantity"), "1.5");
    await user.type(screen.getByTestId("spread-limit-price"), "1,5");
    expect(screen.queryByTestId("error-legs")).toBeNull();
    expect(screen.getByTestId("error-legs[1].ratio").textContent).toBe(
      "must be greater than or equal to 1 and less than or equal to 1000",
    );
    expect(ratio.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("error-quantity").textContent).toBe("a multi-leg order trades whole combinations");
    expect(screen.getByTestId("error-limit_price").textContent).toBe("must be a plain decimal string like 187.25");

    // Put right, nothing is left to say and the confirmation opens.
    await user.type(ratio, "2");
    await user.clear(screen.getByTestId("spread-quantity"));
    await user.type(screen.getByTestId("spread-quantity"), "2");
    await user.clear(screen.getByTestId("spread-limit-price"));
    await user.type(screen.getByTestId("spread-limit-price"), "-0.95");
    expect(screen.queryByTestId("spread-problems")).toBeNull();
    expect(screen.queryAllByTestId(/^error-/)).toEqual([]);
    await user.click(screen.getByTestId("spread-review"));
    expect(screen.getByTestId("spread-confirm-summary").textContent).toContain("BUY 2 × [+1 AAPL 20260320 190 C, -2 AAPL 20260320 200 C]");
    expect(backend.placedOrders).toHaveLength(0);
  });

  it("says when IB has no such stock", async () => {
    const user = userEvent.setup();
    renderApp({ page: "options" });
    await user.type(screen.getByTestId("chain-symbol"), "ZZZZ");
    await user.click(screen.getByTestId("chain-load"));
    expect((await screen.findByTestId("chain-not-found")).textContent).toContain("ZZZZ");
  });
});
