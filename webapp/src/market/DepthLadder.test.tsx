import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { StreamMarketDepthResponse } from "@ibkr-grpc/client";
import { MarketDepthLevelSchema, StreamMarketDepthResponseSchema, StreamMarkerType } from "@ibkr-grpc/client";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { expect, it } from "vitest";
import { FakeBackend } from "../test/fakeBackend";
import { renderApp } from "../test/renderApp";

function ladder(): string[] {
  return screen
    .getAllByTestId("depth-row")
    .map((row) =>
      ["depth-bid-size", "depth-bid-price", "depth-ask-price", "depth-ask-size"]
        .map((id) => row.querySelector(`[data-testid="${id}"]`)?.textContent ?? "")
        .join(" "),
    );
}

function push(backend: FakeBackend, message: StreamMarketDepthResponse) {
  backend.derivatives.depthQueues.at(-1)?.push(message);
}

it("shows the ticket contract's book best first, applies changes by price level, says when it is stale, and starts again from the book after a reconnect", async () => {
  const user = userEvent.setup();
  const backend = new FakeBackend();
  renderApp({ page: "ticket", backend });
  await user.type(screen.getByTestId("ticket-symbol"), "MSFT");
  await screen.findByTestId("depth-ladder");
  await waitFor(() => {
    expect(ladder()).toEqual(["300 10.00 10.02 200", "500 9.99 10.03 400"]);
  });
  expect(backend.derivatives.depthRequests[0]?.contract?.symbol).toBe("MSFT");
  expect(screen.getByTestId("depth-state").textContent).toBe("Live");

  const level = (price: string, size: string) => create(MarketDepthLevelSchema, { price, size });
  push(
    backend,
    create(StreamMarketDepthResponseSchema, {
      payload: { case: "update", value: { bids: [level("10.00", "0"), level("9.98", "50")], asks: [level("10.01", "75")] } },
    }),
  );
  await waitFor(() => {
    // The 10.00 bid is gone, 9.98 joins below 9.99, and 10.01 becomes the best ask.
    expect(ladder()).toEqual(["500 9.99 10.01 75", "50 9.98 10.02 200", "  10.03 400"]);
  });

  push(
    backend,
    create(StreamMarketDepthResponseSchema, {
      payload: { case: "marker", value: { type: StreamMarkerType.GATEWAY_DISCONNECTED, detail: "IB Gateway lost" } },
    }),
  );
  await waitFor(() => {
    expect(screen.getByTestId("depth-state").textContent).toBe("Stale: IB Gateway disconnected (IB Gateway lost)");
  });

  push(
    backend,
    create(StreamMarketDepthResponseSchema, {
      payload: { case: "marker", value: { type: StreamMarkerType.GATEWAY_RECONCILED, detail: "" } },
    }),
  );
  await waitFor(() => {
    expect(screen.getByTestId("depth-state").textContent).toBe("Live");
  });

  // A broken stream is reopened and starts again from the whole book.
  backend.derivatives.depthQueues.at(-1)?.fail(new ConnectError("connection reset", Code.Unavailable));
  await waitFor(() => {
    expect(backend.derivatives.depthRequests).toHaveLength(2);
  });
  await waitFor(() => {
    expect(ladder()).toEqual(["300 10.00 10.02 200", "500 9.99 10.03 400"]);
  });
  expect(screen.getByTestId("depth-state").textContent).toBe("Live");
});
