// The order book beside the ticket: StreamMarketDepth of the ticket's contract, bids and asks by
// price level with their sizes, best first, kept up to date level by level, with the stream's
// state (live, stale while IB Gateway is disconnected, reconnecting and why).
import type { Contract, MarketDepthLevel, StreamMarketDepthResponse } from "@ibkr-grpc/client";
import { MarketDataService } from "@ibkr-grpc/client";
import { useState } from "react";
import { useClient, useToken } from "../api/ApiProvider";
import { useAppConfig } from "../app/config";
import { formatDecimal } from "../lib/decimal";
import { contractKey, contractLabel } from "../state/contracts";
import { usePageStream } from "../state/usePageStream";
import { StreamStatusLine } from "../streams/StreamStatusLine";
import { heartbeatDuration } from "../streams/useResilientStream";
import type { DepthBook } from "./depthBook";
import { EMPTY_DEPTH_BOOK, applyDepthMessage } from "./depthBook";

/** Price levels a side. */
export const DEPTH_ROWS = 8;

/** Prices with at least two decimals, as the ticket's quote shows them. */
const PRICE = { minimumFractionDigits: 2 } as const;

function venues(level: MarketDepthLevel | undefined): string | undefined {
  if (level === undefined || level.venues.length === 0) {
    return undefined;
  }
  return level.venues.map((venue) => `${venue.venue} ${venue.size}`).join(", ");
}

export function DepthLadder({ contract }: { readonly contract: Contract }) {
  const client = useClient(MarketDataService);
  const config = useAppConfig();
  const token = useToken();
  const [book, setBook] = useState<DepthBook>(EMPTY_DEPTH_BOOK);
  const status = usePageStream<StreamMarketDepthResponse>({
    name: "Market depth",
    restartKey: `${token}\n${contractKey(contract)}`,
    enabled: true,
    open: (signal) =>
      client.streamMarketDepth(
        { contract, rows: DEPTH_ROWS, heartbeatInterval: heartbeatDuration(config.heartbeatIntervalMs) },
        { signal },
      ),
    onMessage: (message) => {
      setBook((previous) => applyDepthMessage(previous, message, DEPTH_ROWS));
    },
    markerOf: (message) => (message.payload.case === "marker" ? message.payload.value : undefined),
  });
  const rows = Math.max(book.bids.length, book.asks.length);
  return (
    <section className="panel depth-ladder" aria-label="Market depth" data-testid="depth-ladder">
      <div className="panel-head">
        <h2>Depth {contractLabel(contract)}</h2>
        <StreamStatusLine status={status} testId="depth-state" />
      </div>
      {rows === 0 ? (
        <p className="muted" data-testid="depth-empty">
          No levels yet.
        </p>
      ) : (
        <table className="grid depth-table">
          <thead>
            <tr>
              <th scope="col" className="num">
                Bid size
              </th>
              <th scope="col" className="num">
                Bid
              </th>
              <th scope="col" className="num">
                Ask
              </th>
              <th scope="col" className="num">
                Ask size
              </th>
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: rows }, (_, index) => {
              const bid = book.bids[index];
              const ask = book.asks[index];
              return (
                <tr key={index} data-testid="depth-row">
                  <td className="num depth-bid" data-testid="depth-bid-size" title={venues(bid)}>
                    {bid === undefined ? "" : formatDecimal(bid.size, { grouping: true })}
                  </td>
                  <td className="num depth-bid" data-testid="depth-bid-price">
                    {bid === undefined ? "" : formatDecimal(bid.price, PRICE)}
                  </td>
                  <td className="num depth-ask" data-testid="depth-ask-price">
                    {ask === undefined ? "" : formatDecimal(ask.price, PRICE)}
                  </td>
                  <td className="num depth-ask" data-testid="depth-ask-size" title={venues(ask)}>
                    {ask === undefined ? "" : formatDecimal(ask.size, { grouping: true })}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
