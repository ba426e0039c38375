// End to end in real headless Chromium: the built UI served by Envoy, over gRPC-Web to the real
// server, in front of the simulated IB Gateway. One trader's session, step by step: the onboarding
// screen, paste the API token, find trading halted (pytest halts it through the admin API before
// the browser starts) and resume it as the admin, see the gateway and the account, watch quotes
// tick and the candlestick chart follow them, read the ticket's live quote, place a far-away limit
// order, see it working in the blotter, cancel it, place a market order, see it fill and the
// position grow, close the position from the positions page, reload and find the activity still
// there, and look at every page at 420 px. Every step leaves a screenshot in E2E_ARTIFACTS.
//
// tests/e2e (pytest) starts the stack and runs this file with `npm run test:e2e`; by hand:
//   E2E_BASE_URL=http://127.0.0.1:8080 E2E_TOKEN=<jwt> E2E_ARTIFACTS=/tmp/shots \
//     npm run --workspace webapp test:e2e
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = process.env["E2E_CHROMIUM"] ?? "/usr/bin/chromium";
const INSTALL_CHROMIUM =
  "command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y --no-install-recommends chromium)";
const ACCOUNT = process.env["E2E_ACCOUNT"] ?? "DU1234567";
const SYMBOL = "AAPL";
// The reason tests/e2e gives HaltTrading before the browser starts.
const HALT_REASON = process.env["E2E_HALT_REASON"] ?? "e2e: opening checks";
// Playwright's waits (expect.poll's are in vitest.e2e.config.ts): long enough for a busy CI
// machine; every wait ends as soon as its condition holds.
const WAIT_MS = 15_000;

function required(name: string): string {
  const value = process.env[name] ?? "";
  if (value === "") {
    throw new Error(`${name} is not set: run the browser tests through pytest tests/e2e (it starts the stack)`);
  }
  return value;
}

function log(message: string): void {
  process.stdout.write(`[e2e] ${message}\n`);
}

/** The number in a cell ("1,234.5" -> 1234.5), or NaN when there is none. */
function numberIn(text: string | null): number {
  return Number.parseFloat((text ?? "").replace(/,/g, ""));
}

async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? "").trim();
}

/**
 * What is wrong with the layout of a table row as Chromium drew it: every cell must be a table
 * cell that fills the row's height (a cell with another display, e.g. flex, loses the row's
 * borders and background).
 */
async function rowLayoutProblems(row: Locator): Promise<string[]> {
  return row.evaluate((element) => {
    const rowBox = element.getBoundingClientRect();
    return [...element.children].flatMap((cell, index) => {
      const display = getComputedStyle(cell).display;
      const box = cell.getBoundingClientRect();
      const problems: string[] = [];
      if (display !== "table-cell") {
        problems.push(`cell ${index + 1} has display: ${display}`);
      }
      if (Math.abs(box.top - rowBox.top) > 1 || Math.abs(box.bottom - rowBox.bottom) > 1) {
        problems.push(
          `cell ${index + 1} spans y ${box.top}-${box.bottom}, its row y ${rowBox.top}-${rowBox.bottom}`,
        );
      }
      return problems;
    });
  });
}

async function textAlignOf(locator: Locator): Promise<string> {
  return locator.evaluate((element) => getComputedStyle(element).textAlign);
}

describe("trading through the UI in Chromium", () => {
  const baseUrl = required("E2E_BASE_URL");
  const token = required("E2E_TOKEN");
  const artifacts = required("E2E_ARTIFACTS");
  let profile = "";
  let context: BrowserContext | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  let shots = 0;

  async function screenshot(name: string): Promise<void> {
    shots += 1;
    const path = join(artifacts, `${String(shots).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    log(`screenshot ${path}`);
  }

  async function step(name: string, body: () => Promise<void>): Promise<void> {
    log(`step: ${name}`);
    const started = Date.now();
    try {
      await body();
    } catch (error) {
      await page
        .screenshot({ path: join(artifacts, `failed-${name.replace(/[^a-z0-9]+/gi, "-")}.png`), fullPage: true })
        .catch(() => undefined);
      throw error;
    }
    log(`  done in ${Date.now() - started} ms`);
  }

  async function goTo(pageId: "dashboard" | "ticket" | "orders" | "positions" | "watchlist" | "options"): Promise<void> {
    await page.getByTestId(`nav-${pageId}`).click();
    await expect.poll(() => page.getByTestId(`nav-${pageId}`).getAttribute("aria-current")).toBe("page");
  }

  /** The quantity of SYMBOL in ACCOUNT on the positions page (0 without a row). */
  async function positionQuantity(): Promise<number> {
    const row = page.getByTestId("position-row").filter({ hasText: ACCOUNT }).filter({ hasText: SYMBOL });
    if ((await row.count()) === 0) {
      return 0;
    }
    // Columns: account, symbol, type, qty, ...
    return numberIn(await row.locator("td").nth(3).textContent());
  }

  /**
   * Fill in the ticket (already open for SYMBOL), review it, check what the confirmation says
   * will be sent and its notional, and confirm: the new order's id.
   */
  async function placeOrder(shotName: string, summary: string, fill: () => Promise<void>): Promise<string> {
    await expect.poll(() => page.getByTestId("ticket-symbol").inputValue()).toBe(SYMBOL);
    await fill();
    await page.getByTestId("ticket-review").click();
    const dialog = page.getByTestId("confirm-dialog");
    await dialog.waitFor();
    expect(await textOf(page.getByTestId("confirm-summary"))).toBe(summary);
    // Priced from the order's limit, or the last trade for a market order: never unknown.
    await expect.poll(() => textOf(page.getByTestId("confirm-notional"))).toMatch(/ = [\d,.]+ USD$/);
    log(`  confirmation: ${summary}; notional ${await textOf(page.getByTestId("confirm-notional"))}`);
    await screenshot(shotName);
    await page.getByTestId("confirm-submit").click();
    await dialog.waitFor({ state: "detached" });
    const result = page.getByTestId("ticket-result");
    await result.waitFor();
    const orderId = await textOf(result.locator(".mono"));
    expect(orderId).toMatch(/^\S+$/);
    log(`  order ${orderId}: ${await textOf(result)}`);
    return orderId;
  }

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    // In the system's temporary folder: Chromium's singleton socket lives next to it, and a
    // Unix socket's path must stay short (108 bytes).
    profile = mkdtempSync(join(tmpdir(), "ibkr-e2e-chromium-"));
    try {
      // A persistent context is how Playwright takes a user-data-dir: a fresh one, thrown away.
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
        viewport: { width: 1400, height: 900 },
        timeout: 30_000,
      });
    } catch (error) {
      throw new Error(
        `Chromium did not start from ${CHROMIUM} (if it is missing, install it with:\n  ${INSTALL_CHROMIUM}\n)\n${String(error)}`,
        { cause: error },
      );
    }
    context.setDefaultTimeout(WAIT_MS);
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => {
      pageErrors.push(error.message);
      log(`page error: ${error.message}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error") {
        consoleErrors.push(message.text());
        log(`console error: ${message.text()}`);
      }
    });
    // Every order goes through the confirmation dialog; no native dialog may ever block.
    page.on("dialog", (dialog) => {
      log(`unexpected native dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile !== "") {
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it("places, cancels and fills orders and shows the position", async () => {
    await step("load the UI and enter the API token", async () => {
      await page.goto(`${baseUrl}/`);
      // No token yet: the onboarding screen says where to find one, instead of error lines.
      await expect.poll(() => textOf(page.getByTestId("token-toggle"))).toBe("API token: none");
      const onboarding = page.getByTestId("onboarding");
      await onboarding.waitFor();
      expect(await textOf(onboarding)).toContain("ibkr-grpc demo");
      expect(await textOf(onboarding)).toContain("ibkr-grpc token");
      expect(await page.getByTestId("status-banner").count()).toBe(0);
      expect(await textOf(page.getByTestId("gateway-state"))).toBe("UNKNOWN");
      await screenshot("no-token");
      // Paste it as a new user does: the onboarding screen's field.
      await page.getByTestId("onboarding-token-input").fill(token);
      await page.getByTestId("onboarding-token-save").click();
      await onboarding.waitFor({ state: "detached" });
      await expect.poll(() => textOf(page.getByTestId("token-toggle"))).toBe("API token: set");
      await expect.poll(() => textOf(page.getByTestId("gateway-state"))).toBe("READY");
    });

    await step("trading halted: header, banner and ticket say so; the admin resumes", async () => {
      // Halted through the admin API before the browser started: a READY session, but not green.
      await expect.poll(() => textOf(page.getByTestId("trading-state"))).toBe("HALTED");
      expect(await page.getByTestId("gateway-state").getAttribute("class")).not.toContain("pill-ok");
      const banner = page.getByTestId("halt-banner");
      await banner.waitFor();
      expect(await textOf(banner)).toContain("Trading halted for every account");
      expect(await textOf(banner)).toContain(HALT_REASON);
      log(`  banner: ${await textOf(banner)}`);
      await goTo("ticket");
      expect(await textOf(page.getByTestId("ticket-halted"))).toContain(HALT_REASON);
      expect(await page.getByTestId("ticket-review").isDisabled()).toBe(true);
      await screenshot("halted");
      await banner.getByTestId("resume-trading").click();
      const dialog = page.getByTestId("resume-dialog");
      await dialog.getByTestId("resume-reason").fill("e2e: checks done");
      await dialog.getByTestId("resume-submit").click();
      await banner.waitFor({ state: "detached" });
      await expect.poll(() => textOf(page.getByTestId("trading-state"))).toBe("Trading open");
      expect(await page.getByTestId("gateway-state").getAttribute("class")).toContain("pill-ok");
      expect(await page.getByTestId("ticket-review").isDisabled()).toBe(false);
      // Nothing is impaired any more.
      await page.getByTestId("status-banner").waitFor({ state: "detached" });
    });

    await step("dashboard", async () => {
      await goTo("dashboard");
      const gateway = page.getByTestId("gateway-panel");
      await gateway.waitFor();
      await expect.poll(() => textOf(gateway)).toContain(ACCOUNT);
      const account = page.getByTestId(`account-${ACCOUNT}`);
      await account.waitFor();
      // The simulator's paper account starts with cash: net liquidation is a positive amount.
      const netLiquidation = account.locator(".fact").filter({ hasText: "Net liquidation" }).locator("dd");
      await expect.poll(async () => numberIn((await textOf(netLiquidation)).replace(/[^0-9.,-]/g, ""))).toBeGreaterThan(0);
      await screenshot("dashboard");
    });

    let lastPrice = Number.NaN;
    await step("watchlist quotes tick", async () => {
      await goTo("watchlist");
      const row = page.getByTestId(`watch-row-${SYMBOL}`);
      await row.waitFor();
      const quote = async () =>
        [
          await textOf(row.getByTestId("quote-bid")),
          await textOf(row.getByTestId("quote-ask")),
          await textOf(row.getByTestId("quote-last")),
        ].join(" / ");
      await expect.poll(() => row.getByTestId("quote-last").textContent()).toMatch(/^\d+(\.\d+)?$/);
      const first = await quote();
      log(`  ${SYMBOL} bid / ask / last: ${first}`);
      // The simulator steps prices several times a second: the row must change by itself.
      await expect.poll(quote).not.toBe(first);
      const second = await quote();
      log(`  ${SYMBOL} bid / ask / last: ${second}`);
      const [bid, ask, last] = second.split(" / ").map(numberIn);
      expect(bid).toBeGreaterThan(0);
      expect(ask).toBeGreaterThanOrEqual(bid ?? Number.NaN);
      lastPrice = last ?? Number.NaN;
      expect(lastPrice).toBeGreaterThan(0);
      // Every watched symbol gets quotes, not only the first.
      for (const symbol of ["MSFT", "SPY"]) {
        await expect
          .poll(() => page.getByTestId(`watch-row-${symbol}`).getByTestId("quote-last").textContent())
          .toMatch(/^\d+(\.\d+)?$/);
      }
      // The rows are laid out as a table, the symbols aligned like their column's header.
      for (const watched of await page.getByTestId("watchlist-table").locator("tbody tr").all()) {
        expect(await rowLayoutProblems(watched)).toEqual([]);
      }
      expect(await textAlignOf(row.getByRole("rowheader"))).toBe(
        await textAlignOf(page.getByRole("columnheader", { name: "Symbol" })),
      );
      await screenshot("watchlist-ticking");
    });

    await step("candlestick chart with live updates", async () => {
      const chart = page.getByTestId("price-chart");
      await chart.waitFor();
      const canvas = chart.getByTestId("chart-canvas");
      // Bars from GetHistoricalBars, drawn on lightweight-charts' canvases (candles, volume, axes).
      await expect.poll(async () => Number(await canvas.getAttribute("data-candles"))).toBeGreaterThan(5);
      expect(await canvas.locator("canvas").count()).toBeGreaterThan(1);
      const candles = Number(await canvas.getAttribute("data-candles"));
      const firstClose = (await canvas.getAttribute("data-last-close")) ?? "";
      log(`  ${candles} candles, newest close ${firstClose}`);
      // The newest candle follows the live last price: its close is the watchlist's last trade.
      await expect.poll(async () => (await canvas.getAttribute("data-last-close")) !== firstClose).toBe(true);
      await expect
        .poll(async () => {
          const close = numberIn(await canvas.getAttribute("data-last-close"));
          const last = numberIn(await textOf(chart.getByTestId("chart-last")));
          return close === last ? "same" : `${close} vs ${last}`;
        })
        .toBe("same");
      expect(await textOf(chart.getByTestId("chart-legend"))).toMatch(/O [\d.]+ H [\d.]+ L [\d.]+ C [\d.]+ V/);
      await screenshot("chart-candlesticks");
      // Another bar size asks for other bars.
      await chart.getByTestId("chart-bar-1m").click();
      await expect.poll(async () => Number(await canvas.getAttribute("data-candles"))).toBeGreaterThan(5);
      log(`  1m bars: ${await canvas.getAttribute("data-candles")} candles`);
    });

    let positionBefore = 0;
    await step("positions before trading", async () => {
      await goTo("positions");
      // "N shown" once the portfolio snapshot is complete ("loading…" before).
      await page.getByText(/^\d+ shown$/).waitFor();
      positionBefore = await positionQuantity();
      log(`  ${SYMBOL} position before: ${positionBefore}`);
    });

    let limitOrderId = "";
    const limitPrice = (Math.round(lastPrice * 50) / 100).toFixed(2); // half the market: never fills
    await step("limit order through the ticket", async () => {
      await goTo("watchlist");
      await page.getByRole("button", { name: `Buy ${SYMBOL}` }).click();
      await expect.poll(() => page.getByTestId("nav-ticket").getAttribute("aria-current")).toBe("page");
      // The ticket shows the market it trades into: bid <= ask, the spread between them, live.
      await expect.poll(async () => textOf(page.getByTestId("ticket-last"))).toMatch(/^\d+(\.\d+)?$/);
      const figures = ["ticket-bid", "ticket-ask", "ticket-last", "ticket-spread"].map((id) => textOf(page.getByTestId(id)));
      const [bid, ask, last, spread] = (await Promise.all(figures)).map(numberIn);
      log(`  ticket quote: bid ${bid} ask ${ask} last ${last} spread ${spread}`);
      expect(ask).toBeGreaterThanOrEqual(bid ?? Number.NaN);
      expect(spread).toBeCloseTo((ask ?? Number.NaN) - (bid ?? Number.NaN), 6);
      const firstLast = await textOf(page.getByTestId("ticket-last"));
      await expect.poll(async () => textOf(page.getByTestId("ticket-last"))).not.toBe(firstLast);
      await page.getByTestId("price-chart").waitFor();
      await page.getByTestId("ticket-quantity").fill("10");
      await expect.poll(() => textOf(page.getByTestId("ticket-notional"))).toMatch(/^Notional [\d,.]+ USD \(10 × /);
      await screenshot("ticket-quote");
      limitOrderId = await placeOrder("ticket-confirm-limit", `BUY 10 ${SYMBOL} LIMIT (limit ${limitPrice}) DAY`, async () => {
        await page.getByTestId("ticket-quantity").fill("10");
        await page.getByTestId("ticket-order-type").selectOption({ label: "LIMIT" });
        await page.getByTestId("ticket-limit-price").fill(limitPrice);
      });
      await expect.poll(() => textOf(page.getByTestId("ticket-result"))).toMatch(/Submitted|Pending submit/);
      await screenshot("ticket-limit-placed");
    });

    await step("working limit order in the blotter", async () => {
      await goTo("orders");
      const row = page.getByTestId(`order-row-${limitOrderId}`);
      await row.waitFor();
      await expect.poll(() => textOf(row.getByTestId("order-status"))).toBe("Submitted");
      const text = await textOf(row);
      expect(text).toContain(SYMBOL);
      expect(text).toContain("BUY");
      expect(text).toContain("LIMIT");
      expect(text).toContain(String(Number(limitPrice))); // the API's trimmed form: "95.00" is "95"
      await page.getByRole("button", { name: `Cancel order ${limitOrderId}` }).waitFor();
      expect(await rowLayoutProblems(row)).toEqual([]);
      await screenshot("blotter-working-limit");
    });

    await step("cancel the limit order", async () => {
      await page.getByRole("button", { name: `Cancel order ${limitOrderId}` }).click();
      const row = page.getByTestId(`order-row-${limitOrderId}`);
      await expect.poll(() => textOf(row.getByTestId("order-status"))).toBe("Cancelled");
      // A cancelled order offers no more actions.
      await page.getByTestId(`cancel-${limitOrderId}`).waitFor({ state: "detached" });
      expect(await rowLayoutProblems(row)).toEqual([]);
      await screenshot("blotter-after-cancel");
    });

    let marketOrderId = "";
    await step("market order through the ticket", async () => {
      await goTo("ticket");
      await page.getByTestId("ticket-symbol").fill(SYMBOL);
      marketOrderId = await placeOrder("ticket-confirm-market", `BUY 5 ${SYMBOL} MARKET DAY`, async () => {
        await page.getByTestId("ticket-side-buy").check();
        await page.getByTestId("ticket-quantity").fill("5");
        await page.getByTestId("ticket-order-type").selectOption({ label: "MARKET" });
      });
      expect(marketOrderId).not.toBe(limitOrderId);
    });

    await step("market order fills", async () => {
      await goTo("orders");
      const row = page.getByTestId(`order-row-${marketOrderId}`);
      await row.waitFor();
      await expect.poll(() => textOf(row.getByTestId("order-status"))).toBe("Filled");
      // Columns: time, order, symbol, side, type, qty, filled, limit, stop, trail, avg, ...
      const cells = row.locator("td");
      expect(await textOf(cells.nth(4))).toBe("MARKET");
      expect(numberIn(await cells.nth(6).textContent())).toBe(5);
      const average = numberIn(await cells.nth(10).textContent());
      expect(average).toBeGreaterThan(lastPrice * 0.8);
      expect(average).toBeLessThan(lastPrice * 1.2);
      // Its execution is in the fills table, with the commission once IB reports it.
      // The fills name their order by a short id, the full one in its title.
      const fill = page.locator('[data-testid^="fill-row-"]').filter({ has: page.locator(`[title="${marketOrderId}"]`) });
      await fill.first().waitFor();
      await expect.poll(() => textOf(fill.first().getByTestId("fill-commission"))).toMatch(/USD$/);
      // The cancelled limit order is still listed, as done.
      expect(await textOf(page.getByTestId(`order-row-${limitOrderId}`).getByTestId("order-status"))).toBe(
        "Cancelled",
      );
      await screenshot("blotter-market-filled");
    });

    await step("position after the fill", async () => {
      await goTo("positions");
      await expect.poll(positionQuantity).toBe(positionBefore + 5);
      const row = page.getByTestId("position-row").filter({ hasText: ACCOUNT }).filter({ hasText: SYMBOL });
      expect(await rowLayoutProblems(row)).toEqual([]);
      // Average cost and market price of the new position are prices near the market.
      expect(numberIn(await row.locator('[data-column="averagePrice"]').textContent())).toBeGreaterThan(0);
      // With one position, the totals are its figures: market value, unrealized, realized and
      // daily PnL (blank while IB has not reported one, never a made-up 0.00).
      const cells = row.locator("td");
      const totals = page.getByTestId("positions-total-USD").locator("td");
      const figures = async (locator: Locator, first: number) =>
        Promise.all([0, 1, 2, 3].map((offset) => textOf(locator.nth(first + offset))));
      // Prices tick: read both until they come from the same render.
      await expect
        .poll(async () => {
          const [total, position] = [await figures(totals, 0), await figures(cells, 8)];
          return total.join(" | ") === position.join(" | ") ? "equal" : `${total.join(" | ")} vs ${position.join(" | ")}`;
        })
        .toBe("equal");
      await screenshot("positions");
    });

    await step("close the position from the positions page", async () => {
      const quantity = await positionQuantity();
      await page.getByRole("button", { name: `Close ${SYMBOL} position in ${ACCOUNT}` }).click();
      const dialog = page.getByTestId("close-position-dialog");
      await dialog.waitFor();
      expect(await textOf(dialog.getByTestId("close-position-summary"))).toBe(`SELL ${quantity} ${SYMBOL} MARKET DAY`);
      await screenshot("positions-close-confirm");
      await dialog.getByTestId("close-position-confirm").click();
      await dialog.waitFor({ state: "detached" });
      const notice = await textOf(page.getByTestId("positions-notice"));
      log(`  ${notice}`);
      expect(notice).toMatch(new RegExp(`^Close order \\S+ for ${SYMBOL}: `));
      await expect.poll(positionQuantity).toBe(0);
      await screenshot("positions-closed");
    });

    await step("dashboard shows the order activity, also after a reload", async () => {
      await goTo("dashboard");
      const activity = page.getByTestId("recent-activity");
      await activity.waitFor();
      await expect.poll(() => textOf(activity)).toContain("Filled");
      expect(await textOf(activity)).toContain("Cancelled");
      await page.getByTestId("price-chart").waitFor();
      await screenshot("dashboard-after-trading");
      const rows = await activity.getByTestId("activity-row").count();
      // A reload keeps the token (sessionStorage) and replays the newest events.
      await page.reload();
      await page.getByTestId("recent-activity").waitFor();
      await expect.poll(() => page.getByTestId("activity-row").count()).toBe(rows);
      expect(await textOf(page.getByTestId("recent-activity"))).toContain("Filled");
      await screenshot("dashboard-after-reload");
    });

    await step("every page at 420 px", async () => {
      await page.setViewportSize({ width: 420, height: 860 });
      for (const pageId of ["dashboard", "ticket", "orders", "positions", "watchlist"] as const) {
        await goTo(pageId);
        if (pageId === "ticket") {
          await page.getByTestId("ticket-symbol").fill(SYMBOL);
          await page.getByTestId("price-chart").waitFor();
        }
        // Nothing sticks out: wide tables scroll inside their panels.
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(width, `${pageId} is ${width} px wide at 420`).toBeLessThanOrEqual(420);
        await screenshot(`narrow-${pageId}`);
      }
      await page.setViewportSize({ width: 1400, height: 900 });
    });

    await step("the ticket's depth ladder", async () => {
      await goTo("ticket");
      await page.getByTestId("ticket-symbol").fill(SYMBOL);
      const ladder = page.getByTestId("depth-ladder");
      await ladder.waitFor();
      await expect.poll(() => textOf(ladder.getByTestId("depth-state"))).toBe("Live");
      await expect.poll(() => ladder.getByTestId("depth-row").count()).toBeGreaterThan(0);
      // Best first: bids fall and asks rise down the ladder, and the best bid is below the best ask.
      // Both sides read at once: the book changes several times a second.
      const [bids, asks] = await ladder.evaluate((element) =>
        ["depth-bid-price", "depth-ask-price"].map((id) =>
          [...element.querySelectorAll(`[data-testid="${id}"]`)]
            .map((cell) => cell.textContent.trim())
            .filter((text) => text !== "")
            .map((text) => Number.parseFloat(text.replace(/,/g, ""))),
        ),
      );
      if (bids === undefined || asks === undefined) {
        throw new Error("the ladder has no bid or ask column");
      }
      log(`  depth: bids ${bids.join(" ")} | asks ${asks.join(" ")}`);
      expect(bids.length).toBeGreaterThan(0);
      expect(asks.length).toBeGreaterThan(0);
      expect([...bids].sort((a, b) => b - a)).toEqual(bids);
      expect([...asks].sort((a, b) => a - b)).toEqual(asks);
      expect(bids[0]).toBeLessThan(asks[0] ?? Number.NaN);
      await screenshot("ticket-depth");
    });

    let condorOrderId = "";
    await step("an iron condor priced from the option chain, placed as one order", async () => {
      await goTo("options");
      await page.getByTestId("chain-symbol").fill(SYMBOL);
      await page.getByTestId("chain-load").click();
      const chain = page.getByTestId("option-chain");
      await chain.waitFor();
      await expect.poll(() => textOf(chain.getByTestId("chain-state"))).toBe("Live");
      const atTheMoney = chain.locator('[data-atm="true"]');
      await atTheMoney.waitFor();
      const rows = await chain.locator('[data-testid^="chain-row-"]').evaluateAll((elements) =>
        elements.map((element) => (element.getAttribute("data-testid") ?? "").replace("chain-row-", "")),
      );
      const atm = rows.indexOf(((await atTheMoney.getAttribute("data-testid")) ?? "").replace("chain-row-", ""));
      expect(atm).toBeGreaterThanOrEqual(2);
      expect(atm + 2).toBeLessThan(rows.length);
      const strike = (offset: number) => rows[atm + offset] ?? "";
      // Buy the put two strikes below the money, sell the one below, sell the call above, buy the
      // one two above: four legs, each bid/ask quoted with IV and delta from the chain stream.
      const legs: [string, string, string][] = [
        ["buy", "put", strike(-2)],
        ["sell", "put", strike(-1)],
        ["sell", "call", strike(1)],
        ["buy", "call", strike(2)],
      ];
      for (const [, right, legStrike] of legs) {
        const row = chain.getByTestId(`chain-row-${legStrike}`);
        await expect.poll(() => textOf(row.getByTestId(`${right}-ask`))).toMatch(/^\d+\.\d+$/);
        await expect.poll(() => textOf(row.getByTestId(`${right}-iv`))).toMatch(/%$/);
        await expect.poll(() => textOf(row.getByTestId(`${right}-delta`))).toMatch(/^-?\d\.\d\d$/);
      }
      for (const [side, right, legStrike] of legs) {
        await page.getByTestId(`leg-${side}-${right}-${legStrike}`).click();
      }
      const ticket = page.getByTestId("spread-ticket");
      await expect.poll(() => ticket.getByTestId("spread-leg").count()).toBe(4);
      await expect.poll(() => textOf(ticket.getByTestId("spread-natural"))).toMatch(/^Credit \d/);
      await ticket.getByTestId("spread-use-natural").click();
      const natural = await ticket.getByTestId("spread-limit-price").inputValue();
      // The condor brings in a credit: the limit is negative, its loss is bounded by the wings.
      expect(Number(natural)).toBeLessThan(0);
      // Priced at the natural price, five cents of credit given up so that the fill survives the
      // underlying's next tick (the simulator fills when the net of the touches meets the limit).
      const limit = (Number(natural) + 0.05).toFixed(2);
      await ticket.getByTestId("spread-limit-price").fill(limit);
      await expect.poll(() => textOf(ticket.getByTestId("spread-max-loss"))).toMatch(/^[\d,.]+ USD$/);
      const maxProfit = await textOf(ticket.getByTestId("spread-max-profit"));
      const maxLoss = await textOf(ticket.getByTestId("spread-max-loss"));
      log(`  condor ${legs.map((leg) => leg.join(" ")).join(", ")}: natural ${natural}, limit ${limit}; max profit ${maxProfit}, max loss ${maxLoss}`);
      // Max profit is the credit (x100), max loss the wing width less the credit (x100).
      expect(numberIn(maxProfit)).toBeCloseTo(-Number(limit) * 100, 6);
      const wing = Number(strike(-1)) - Number(strike(-2));
      expect(numberIn(maxLoss)).toBeCloseTo((Math.max(wing, Number(strike(2)) - Number(strike(1))) + Number(limit)) * 100, 6);
      await screenshot("option-chain");
      await ticket.getByTestId("spread-review").click();
      const dialog = page.getByTestId("spread-confirm-dialog");
      await dialog.waitFor();
      expect(await textOf(dialog.getByTestId("spread-confirm-summary"))).toMatch(/^BUY 1 × \[\+1 .* P, -1 .* P, -1 .* C, \+1 .* C\] LIMIT Credit /);
      await screenshot("spread-confirm");
      await dialog.getByTestId("spread-confirm-submit").click();
      await dialog.waitFor({ state: "detached" });
      const result = ticket.getByTestId("spread-result");
      await result.waitFor();
      condorOrderId = await textOf(result.locator(".mono"));
      log(`  order ${condorOrderId}: ${await textOf(result)}`);
      expect(await textOf(result)).toContain("4 legs");
    });

    await step("the condor fills as one order", async () => {
      await goTo("orders");
      const row = page.getByTestId(`order-row-${condorOrderId}`);
      await row.waitFor();
      await expect.poll(() => textOf(row.getByTestId("order-status"))).toBe("Filled");
      await screenshot("orders-condor-filled");
    });

    await step("four option legs in positions, x100", async () => {
      await goTo("positions");
      const options = page.getByTestId("position-row").filter({ has: page.locator('[data-column="type"]', { hasText: /^OPTION$/ }) });
      await expect.poll(() => options.count()).toBe(4);
      for (const row of await options.all()) {
        expect(await textOf(row.locator('[data-column="multiplier"]'))).toBe("100");
        expect(await textOf(row.locator('[data-column="symbol"]'))).toMatch(new RegExp(`^${SYMBOL} \\d{8} [\\d.]+ [CP]$`));
        // The price per unit is the cost per contract over the multiplier.
        const cost = numberIn(await textOf(row.locator('[data-column="averageCost"]')));
        const price = numberIn(await textOf(row.locator('[data-column="averagePrice"]')));
        expect(price * 100).toBeCloseTo(cost, 4);
      }
      await screenshot("positions-condor");
    });

    // Nothing went wrong in the page along the way: no uncaught exception, no console error.
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
