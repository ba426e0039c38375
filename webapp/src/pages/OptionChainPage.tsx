// The option chain: pick an underlying stock (resolved to IB's con_id with GetContractDetails),
// an expiration (GetOptionChain), and see the calls and puts around the money live
// (StreamOptionChain: bid, ask, IV, delta); Buy/Sell on an option adds it as a leg of the spread
// ticket beside the chain.
import { skipToken, useQuery } from "@connectrpc/connect-query";
import { create } from "@bufbuild/protobuf";
import type { Contract, OptionChain, Side, StreamOptionChainResponse } from "@ibkr-grpc/client";
import { ContractSchema, MarketDataService, OptionService, SecurityType } from "@ibkr-grpc/client";
import type { SyntheticEvent } from "react";
import { useState } from "react";
import { describeError } from "../api/apiError";
import { useClient, useToken } from "../api/ApiProvider";
import { useAppConfig } from "../app/config";
import { ErrorPanel } from "../components/ErrorPanel";
import { formatDecimal } from "../lib/decimal";
import type { ChainState } from "../options/chain";
import { EMPTY_CHAIN, applyChainMessage, chainRows, underlyingQuote } from "../options/chain";
import { ChainTable } from "../options/ChainTable";
import type { SpreadLeg } from "../options/spreadMath";
import { withLeg } from "../options/spreadOrder";
import { SpreadTicket } from "../options/SpreadTicket";
import { contractKey } from "../state/contracts";
import { usePageStream } from "../state/usePageStream";
import { StreamStatusLine } from "../streams/StreamStatusLine";
import { heartbeatDuration } from "../streams/useResilientStream";

/** Strikes a side the chain may show; 5 a side with both rights takes 23 market-data lines. */
const STRIKES_PER_SIDE_CHOICES = [3, 5, 8] as const;

const PRICE = { minimumFractionDigits: 2 } as const;

/** The chain of stock options routed SMART when IB lists one, else the first listed. */
export function preferredChain(chains: readonly OptionChain[]): OptionChain | undefined {
  return chains.find((chain) => chain.exchange === "SMART") ?? chains[0];
}

/** "20260320" -> "2026-03-20". */
function formatExpiration(expiration: string): string {
  return /^\d{8}$/.test(expiration)
    ? `${expiration.slice(0, 4)}-${expiration.slice(4, 6)}-${expiration.slice(6)}`
    : expiration;
}

interface ChainViewProps {
  readonly underlying: Contract;
  readonly chain: OptionChain;
  readonly expiration: string;
  readonly strikesPerSide: number;
}

/** The live chain of one expiration and the spread ticket its legs go to. */
function ChainView({ underlying, chain, expiration, strikesPerSide }: ChainViewProps) {
  const client = useClient(OptionService);
  const config = useAppConfig();
  const token = useToken();
  const [state, setState] = useState<ChainState>(EMPTY_CHAIN);
  const [legs, setLegs] = useState<SpreadLeg[]>([]);
  const status = usePageStream<StreamOptionChainResponse>({
    name: "Option chain",
    restartKey: [token, contractKey(underlying), chain.exchange, chain.tradingClass, expiration, strikesPerSide].join("\n"),
    enabled: true,
    open: (signal) =>
      client.streamOptionChain(
        {
          underlying,
          expiration,
          exchange: chain.exchange,
          tradingClass: chain.tradingClass,
          strikesPerSide,
          heartbeatInterval: heartbeatDuration(config.heartbeatIntervalMs),
          maxQuotesPerMessage: 50,
        },
        { signal },
      ),
    onMessage: (message) => {
      setState((previous) => applyChainMessage(previous, message));
    },
    markerOf: (message) => (message.payload.case === "marker" ? message.payload.value : undefined),
  });
  const rows = chainRows(state);
  const underlyingNow = underlyingQuote(state);
  const picked = new Map(legs.map((leg) => [leg.contract.conId, leg.side] as const));
  const quoteOf = (contract: Contract) => state.quotes.get(contractKey(contract));

  return (
    <div className="chain-layout">
      <section className="panel panel-wide" aria-label="Option chain" data-testid="option-chain">
        <div className="panel-head">
          <h2>
            {underlying.symbol} {formatExpiration(expiration)}
          </h2>
          <span className="muted" data-testid="chain-underlying">
            {underlyingNow === undefined
              ? ""
              : `${underlying.symbol} ${formatDecimal(underlyingNow.bid, PRICE)} / ${formatDecimal(underlyingNow.ask, PRICE)}, last ${formatDecimal(underlyingNow.last, PRICE)}`}
          </span>
          <span className="muted">
            ×{chain.multiplier} · {chain.tradingClass} · {chain.exchange}
            {state.window?.atTheMoneyStrike ? ` · at the money ${formatDecimal(state.window.atTheMoneyStrike)}` : ""}
          </span>
          <StreamStatusLine status={status} testId="chain-state" />
        </div>
        {rows.length === 0 ? (
          <p className="muted">Loading the chain…</p>
        ) : (
          <ChainTable
            rows={rows}
            picked={picked}
            onPick={(contract, side: Side) => {
              setLegs((previous) => withLeg(previous, { contract, side, ratio: 1 }));
            }}
          />
        )}
      </section>
      <SpreadTicket legs={legs} onLegsChange={setLegs} quoteOf={quoteOf} currency={underlying.currency || "USD"} />
    </div>
  );
}

export function OptionChainPage() {
  const [symbol, setSymbol] = useState("");
  const [submitted, setSubmitted] = useState("");
  const [expiration, setExpiration] = useState("");
  const [strikesPerSide, setStrikesPerSide] = useState<number>(5);

  // The stock, resolved to its con_id (the chain and the legs are keyed by con_id).
  const details = useQuery(
    MarketDataService.method.getContractDetails,
    submitted === ""
      ? skipToken
      : { contract: { symbol: submitted, securityType: SecurityType.STOCK, exchange: "SMART", currency: "USD" } },
  );
  const resolved = details.data?.details[0]?.contract;
  const underlying =
    resolved === undefined
      ? undefined
      : create(ContractSchema, {
          conId: resolved.conId,
          symbol: resolved.symbol,
          securityType: SecurityType.STOCK,
          exchange: "SMART",
          currency: resolved.currency,
        });
  const chains = useQuery(OptionService.method.getOptionChain, underlying === undefined ? skipToken : { underlying });
  const chain = chains.data === undefined ? undefined : preferredChain(chains.data.chains);
  const expirations = chain?.expirations ?? [];
  const chosenExpiration = expirations.includes(expiration) ? expiration : (expirations[0] ?? "");
  const failure = details.error ?? chains.error;

  function submit(event: SyntheticEvent) {
    event.preventDefault();
    setSubmitted(symbol.trim().toUpperCase());
    setExpiration("");
  }

  return (
    <div className="options-page">
      <form className="panel chain-controls" aria-label="Underlying" onSubmit={submit}>
        <div className="field-row">
          <div className="field">
            <label htmlFor="chain-symbol">Underlying</label>
            <input
              id="chain-symbol"
              data-testid="chain-symbol"
              placeholder="AAPL"
              autoComplete="off"
              value={symbol}
              onChange={(event) => {
                setSymbol(event.target.value);
              }}
            />
          </div>
          <button type="submit" className="primary" data-testid="chain-load">
            Show chain
          </button>
          <div className="field">
            <label htmlFor="chain-expiration">Expiration</label>
            <select
              id="chain-expiration"
              data-testid="chain-expiration"
              value={chosenExpiration}
              disabled={expirations.length === 0}
              onChange={(event) => {
                setExpiration(event.target.value);
              }}
            >
              {expirations.map((candidate) => (
                <option key={candidate} value={candidate}>
                  {formatExpiration(candidate)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="chain-strikes">Strikes a side</label>
            <select
              id="chain-strikes"
              data-testid="chain-strikes"
              value={strikesPerSide}
              onChange={(event) => {
                setStrikesPerSide(Number(event.target.value));
              }}
            >
              {STRIKES_PER_SIDE_CHOICES.map((count) => (
                <option key={count} value={count}>
                  {count}
                </option>
              ))}
            </select>
          </div>
        </div>
        {submitted !== "" && details.data !== undefined && resolved === undefined && (
          <p className="notice" data-testid="chain-not-found">
            No stock {submitted} at IB.
          </p>
        )}
        {chains.data !== undefined && chain === undefined && (
          <p className="notice" data-testid="chain-none">
            IB lists no options on {submitted}.
          </p>
        )}
      </form>
      {failure !== null && <ErrorPanel error={describeError(failure)} testId="chain-error" />}
      {underlying !== undefined && chain !== undefined && chosenExpiration !== "" && (
        <ChainView
          key={contractKey(underlying)}
          underlying={underlying}
          chain={chain}
          expiration={chosenExpiration}
          strikesPerSide={strikesPerSide}
        />
      )}
    </div>
  );
}
