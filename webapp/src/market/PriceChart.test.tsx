import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BarSize,
  ContractSchema,
  OrderStatus,
  PositionSchema,
  QuoteSchema,
  SecurityType,
  Side,
  SpanUnit,
  StreamPortfolioResponseSchema,
  StreamQuotesResponseSchema,
} from "@ibkr-grpc/client";
import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { BAR_START_MS, FakeBackend, order, orderEvent } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";
import { applyTrade, priceLevels, toCandles } from "./bars";

function quoteAt(last: string, timeMs: number, volume: string) {
  return create(StreamQuotesResponseSchema, {
    payload: {
      case: "quote",
      value: create(QuoteSchema, {
        contract: create(ContractSchema, { symbol: "AAPL", securityType: SecurityType.STOCK, currency: "USD" }),
        bid: last,
        ask: last,
        last,
        close: "180",
        volume,
        exchangeTime: timestampFromMs(timeMs),
      }),
    },
  });
}

describe("price chart", () => {
  it("draws candlesticks with volume and moves the newest one with live trades", async () => {
    const backend = new FakeBackend();
    const { chartSurfaces } = renderApp({ page: "watchlist", backend });
    await waitFor(() => {
      expect(chartSurfaces[0]?.candles).toHaveLength(4);
    });
    const surface = chartSurfaces[0];
    if (surface === undefined) {
      throw new Error("no chart");
    }
    expect(surface.precision).toBe(2);
    // The newest candle follows the stream's first quote (the fake's quotes carry no time).
    await waitFor(() => {
      expect(surface.candles.map((candle) => candle.close)).toEqual([187, 188.5, 188, 10.01]);
    });
    expect(backend.barRequests[0]?.barSize).toBe(BarSize.BAR_SIZE_5_MINUTES);
    expect(backend.barRequests[0]?.span).toMatchObject({ count: 1, unit: SpanUnit.DAYS });

    // A trade inside the newest bar moves its close and high, and adds the volume traded since
    // the previous quote.
    const lastBar = BAR_START_MS + 3 * 300_000;
    act(() => {
      backend.quoteQueues[0]?.push(quoteAt("189.4", lastBar + 10_000, "5000"));
      backend.quoteQueues[0]?.push(quoteAt("190.11", lastBar + 20_000, "5300"));
    });
    await waitFor(() => {
      expect(surface.candles.at(-1)).toMatchObject({ close: 190.11, high: 190.11, low: 10.01, volume: 1500, closeText: "190.11" });
    });
    expect(surface.candles).toHaveLength(4);
    expect(screen.getByTestId("chart-legend").textContent).toContain("C 190.11");
    expect(screen.getByTestId("chart-last").textContent).toBe("190.11");
    // Only the newest candle was redrawn.
    expect(surface.setCandlesCalls).toBe(1);
    expect(surface.updateCalls).toBeGreaterThan(0);

    // A trade after the bar's end starts the next one.
    act(() => {
      backend.quoteQueues[0]?.push(quoteAt("190.2", lastBar + 300_000 + 5000, "5400"));
    });
    await waitFor(() => {
      expect(surface.candles).toHaveLength(5);
    });
    expect(surface.candles.at(-1)).toMatchObject({ open: 190.2, close: 190.2, volume: 100, time: (lastBar + 300_000) / 1000 });
    expect(screen.getByTestId("chart-canvas").getAttribute("data-candles")).toBe("5");

    // The crosshair over a candle shows its figures.
    act(() => {
      surface.hover?.(BAR_START_MS / 1000);
    });
    expect(screen.getByTestId("chart-legend").textContent).toContain("C 187");
  });

  it("asks for other bar sizes and spans", async () => {
    const user = userEvent.setup();
    const backend = new FakeBackend();
    renderApp({ page: "watchlist", backend });
    await waitFor(() => {
      expect(backend.barRequests).toHaveLength(1);
    });
    await user.click(screen.getByTestId("chart-bar-1d"));
    await waitFor(() => {
      expect(backend.barRequests.at(-1)?.barSize).toBe(BarSize.BAR_SIZE_1_DAY);
    });
    expect(backend.barRequests.at(-1)?.span).toMatchObject({ count: 1, unit: SpanUnit.MONTHS });
    await user.selectOptions(screen.getByTestId("chart-span"), "1y");
    await waitFor(() => {
      expect(backend.barRequests.at(-1)?.span).toMatchObject({ count: 1, unit: SpanUnit.YEARS });
    });
  });

  it("draws the position's average price and the working orders as price lines", async () => {
    const backend = new FakeBackend();
    backend.portfolioSnapshot = [
      create(StreamPortfolioResponseSchema, {
        payload: {
          case: "position",
          value: create(PositionSchema, {
            account: "DU111",
            contract: create(ContractSchema, { conId: 265598n, symbol: "AAPL", securityType: SecurityType.STOCK, currency: "USD" }),
            quantity: "50",
            averageCost: "185.5",
            currency: "USD",
          }),
        },
      }),
    ];
    const { chartSurfaces } = renderApp({ page: "watchlist", backend });
    await waitFor(() => {
      expect(chartSurfaces[0]?.levels.map((level) => level.title)).toEqual(["Avg 50"]);
    });
    act(() => {
      backend.appendOrderEvent(orderEvent(1n, order("ord_1", { side: Side.SELL, limitPrice: "195", remainingQuantity: "20" })));
      backend.appendOrderEvent(orderEvent(2n, order("ord_2", { status: OrderStatus.CANCELLED, limitPrice: "170" })));
    });
    await waitFor(() => {
      expect(chartSurfaces[0]?.levels.map((level) => `${level.title}@${level.priceText}`)).toEqual(["Avg 50@185.5", "SELL 20 LMT@195"]);
    });
  });
});

describe("chart data", () => {
  it("drops bars without a time or price, and repeated times", () => {
    const candles = toCandles([
      ...new FakeBackend().bars,
      create(QuoteSchema, {}) as never,
    ]);
    expect(candles).toHaveLength(4);
  });

  it("never moves a candle older than the newest", () => {
    const series = { candles: toCandles(new FakeBackend().bars), dayVolume: 100 };
    const next = applyTrade(series, { priceText: "150", time: BAR_START_MS / 1000, dayVolumeText: "150" }, 300);
    expect(next.candles).toHaveLength(4);
    expect(next.candles.at(-1)).toMatchObject({ close: 150, low: 150, volume: 1250 });
  });

  it("divides a derivative's average cost by its multiplier", () => {
    const levels = priceLevels(
      [
        create(PositionSchema, {
          contract: create(ContractSchema, { symbol: "ES", multiplier: "50" }),
          quantity: "-2",
          averageCost: "250000",
        }),
      ],
      [],
    );
    expect(levels.map((level) => level.price)).toEqual([5000]);
  });
});
