// Watchlist: live quotes for the watched contracts (one StreamQuotes for the whole set, reopened
// when it changes), contract search to add symbols (SearchContracts through connect-query), and a
// candlestick chart of the selected one.
import { skipToken, useQuery } from "@connectrpc/connect-query";
import { MarketDataKind, MarketDataKindSchema, MarketDataService, SecurityTypeSchema, Side } from "@ibkr-grpc/client";
import type { SyntheticEvent } from "react";
import { useState } from "react";
import { keepPreviousData } from "@tanstack/react-query";
import { describeError } from "../api/apiError";
import { useNavigation } from "../app/navigation";
import { ErrorPanel } from "../components/ErrorPanel";
import { TickValue } from "../components/TickValue";
import { percentChange, priceChange } from "../market/change";
import { PriceChart } from "../market/PriceChart";
import { formatDecimal, signClass } from "../lib/decimal";
import { enumName } from "../lib/enums";
import { contractKey, contractLabel } from "../state/contracts";
import { useQuotes, useWatchlist } from "../state/LiveData";

/** How many contracts a search lists. */
const SEARCH_PAGE_SIZE = 20;

function ContractSearch() {
  const { store } = useWatchlist();
  const [query, setQuery] = useState("");
  // The search asked for; the list shows its answer only, however late an earlier one arrives.
  const [submitted, setSubmitted] = useState("");
  const search = useQuery(
    MarketDataService.method.searchContracts,
    submitted === "" ? skipToken : { query: submitted, pageSize: SEARCH_PAGE_SIZE },
    // The previous results stay on screen until the new ones arrive.
    { placeholderData: keepPreviousData },
  );
  const results = search.data?.contracts ?? [];
  const error = search.error === null ? undefined : describeError(search.error);

  function submit(event: SyntheticEvent) {
    event.preventDefault();
    const wanted = query.trim();
    if (wanted === "") {
      return;
    }
    if (wanted === submitted) {
      // The same words again: search again (a listing may have changed).
      void search.refetch();
    } else {
      setSubmitted(wanted);
    }
  }

  return (
    <section className="panel" aria-label="Add symbols">
      <form
        className="search"
        role="search"
        onSubmit={submit}
      >
        <input
          type="search"
          placeholder="Search symbol or name"
          aria-label="Search contracts"
          data-testid="watchlist-search"
          value={query}
          onChange={(event) => {
            setQuery(event.target.value);
          }}
        />
        <button
          type="submit"
          // Other words may be searched while a search runs: only their answer is listed.
          disabled={search.isFetching && query.trim() === submitted}
          data-testid="watchlist-search-submit"
        >
          Search
        </button>
      </form>
      {error !== undefined && <ErrorPanel error={error} testId="search-error" />}
      {results.length > 0 && (
        <ul className="search-results" aria-label="Search results">
          {results.map((result, index) => {
            const contract = result.contract;
            if (contract === undefined) {
              return null;
            }
            return (
              <li key={`${contractKey(contract)}:${index}`} data-testid={`search-result-${index}`}>
                <span className="symbol">{contractLabel(contract)}</span>{" "}
                <span className="muted">
                  {enumName(SecurityTypeSchema, contract.securityType)} {contract.primaryExchange || contract.exchange}{" "}
                  {contract.currency} {result.description}
                </span>
                <button
                  type="button"
                  className="small"
                  aria-label={`Add ${contractLabel(contract)}`}
                  data-testid={`add-result-${index}`}
                  onClick={() => {
                    store.add(contract);
                  }}
                >
                  Add
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

export function WatchlistPage() {
  const { contracts, store } = useWatchlist();
  const { quotes, subscriptionErrors } = useQuotes();
  const { openTicket } = useNavigation();
  const [selectedKey, setSelectedKey] = useState("");
  const selected = contracts.find((contract) => contractKey(contract) === selectedKey) ?? contracts[0];
  // The data column says when quotes are not live or could not be had: shown only then.
  const showData =
    subscriptionErrors.size > 0 ||
    [...quotes.values()].some((quote) => quote.marketDataKind !== MarketDataKind.LIVE);

  return (
    <div className="watchlist-page">
      <div className="watchlist-column">
      <section className="panel" aria-label="Watchlist">
        <h2>Watchlist</h2>
        {contracts.length === 0 ? (
          <p className="muted">Nothing watched. Search for a symbol to add it.</p>
        ) : (
          <div className="table-scroll">
          <table className="grid" data-testid="watchlist-table">
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col" className="num">Bid</th>
                <th scope="col" className="num">Ask</th>
                <th scope="col" className="num">Last</th>
                <th scope="col" className="num col-optional">Change</th>
                <th scope="col" className="num">Chg %</th>
                <th scope="col" className="num col-optional">Volume</th>
                {showData && <th scope="col" className="col-optional">Data</th>}
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {contracts.map((contract) => {
                const key = contractKey(contract);
                const label = contractLabel(contract);
                const quote = quotes.get(key);
                const change = quote === undefined ? "" : priceChange(quote.last, quote.close);
                const changePercent = quote === undefined ? "" : percentChange(quote.last, quote.close);
                const problem = subscriptionErrors.get(key);
                return (
                  <tr
                    key={key}
                    data-testid={`watch-row-${label}`}
                    aria-selected={selected !== undefined && contractKey(selected) === key}
                  >
                    <th scope="row">{label}</th>
                    <td className="num" data-testid="quote-bid">
                      <TickValue value={quote?.bid ?? ""} />
                    </td>
                    <td className="num" data-testid="quote-ask">
                      <TickValue value={quote?.ask ?? ""} />
                    </td>
                    <td className="num" data-testid="quote-last">
                      <TickValue value={quote?.last ?? ""} />
                    </td>
                    <td className={`num col-optional ${signClass(change)}`}>{change === "" ? "" : formatDecimal(change, { signed: true })}</td>
                    <td className={`num ${signClass(changePercent)}`} data-testid="quote-change-percent">
                      {changePercent === "" ? "" : `${formatDecimal(changePercent, { signed: true })} %`}
                    </td>
                    <td className="num col-optional">{quote === undefined ? "" : formatDecimal(quote.volume, { grouping: true })}</td>
                    {showData && (
                    <td className={problem === undefined ? "muted col-optional" : "field-error"}>
                      {problem ??
                        (quote === undefined || quote.marketDataKind === MarketDataKind.LIVE
                          ? ""
                          : enumName(MarketDataKindSchema, quote.marketDataKind))}
                    </td>
                    )}
                    <td className="actions">
                      <button
                        type="button"
                        className="small"
                        aria-label={`Chart ${label}`}
                        onClick={() => {
                          setSelectedKey(key);
                        }}
                      >
                        Chart
                      </button>
                      <button
                        type="button"
                        className="small buy"
                        aria-label={`Buy ${label}`}
                        data-testid={`trade-buy-${label}`}
                        onClick={() => {
                          openTicket(contract, Side.BUY);
                        }}
                      >
                        Buy
                      </button>
                      <button
                        type="button"
                        className="small sell"
                        aria-label={`Sell ${label}`}
                        data-testid={`trade-sell-${label}`}
                        onClick={() => {
                          openTicket(contract, Side.SELL);
                        }}
                      >
                        Sell
                      </button>
                      <button
                        type="button"
                        className="small danger"
                        aria-label={`Remove ${label}`}
                        data-testid={`remove-${label}`}
                        onClick={() => {
                          store.remove(key);
                        }}
                      >
                        ×
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          </div>
        )}
      </section>
      <ContractSearch />
      </div>
      {selected !== undefined && <PriceChart key={contractKey(selected)} contract={selected} height={420} />}
    </div>
  );
}
