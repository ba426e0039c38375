"""One IB market-data line per contract, shared by every stream that watches it.

Lines are reference counted and released a short linger after the last watcher leaves (so a
client reopening its stream does not churn lines). Each watcher reads through its own
conflating buffer: a slow reader gets the latest quote per contract and never slows the IB
reader or the other streams. After a reconnect every held line is opened again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import MarketDataLineLimitError, QuotaViolation
from ibkr_grpc.domain.market_data import Quote, SubscriptionFailure
from ibkr_grpc.services.conflation import ConflatingBuffer

QuoteItem = Quote | SubscriptionFailure


class QuoteSource(Protocol):
    async def start(self, contract: ContractSpec) -> None: ...
    async def stop(self, contract: ContractSpec) -> None: ...
    def latest(self, con_id: int) -> Quote | None: ...


@dataclass
class _Line:
    contract: ContractSpec
    watchers: set[ConflatingBuffer[QuoteItem]] = field(default_factory=set)
    release: asyncio.Task[None] | None = None


class QuoteHub:
    def __init__(self, source: QuoteSource, *, line_limit: int, linger_seconds: float) -> None:
        self._source = source
        self._line_limit = line_limit
        self._linger = linger_seconds
        self._lines: dict[int, _Line] = {}
        # watch() awaits between checking the limit and opening lines: one watcher at a time.
        self._opening = asyncio.Lock()

    @property
    def lines_in_use(self) -> int:
        return len(self._lines)

    @property
    def line_limit(self) -> int:
        return self._line_limit

    async def watch(
        self, contracts: list[ContractSpec], buffer: ConflatingBuffer[QuoteItem]
    ) -> None:
        """Add a watcher for qualified contracts, opening lines as needed; all or nothing."""
        async with self._opening:
            new = {c.con_id for c in contracts if c.con_id not in self._lines}
            if len(self._lines) + len(new) > self._line_limit:
                raise MarketDataLineLimitError(
                    f"{len(self._lines)} of {self._line_limit} market-data lines are in use; "
                    f"this stream needs {len(new)} more",
                    metadata={"limit": str(self._line_limit), "in_use": str(len(self._lines))},
                    quota_violations=(
                        QuotaViolation(
                            "market_data_lines", f"at most {self._line_limit} contracts"
                        ),
                    ),
                )
            try:
                for contract in contracts:
                    await self._add_watcher(contract, buffer)
            except BaseException:
                # Cancelled (or refused) half way: lines opened for this watcher alone linger
                # and go, as if it had left.
                self.unwatch(contracts, buffer)
                raise

    async def _add_watcher(
        self, contract: ContractSpec, buffer: ConflatingBuffer[QuoteItem]
    ) -> None:
        line = self._lines.get(contract.con_id)
        if line is None:
            line = self._lines[contract.con_id] = _Line(contract)
            try:
                await self._source.start(contract)
            except BaseException:
                # Never opened: gone at once, so that no later watcher joins a dead line.
                del self._lines[contract.con_id]
                raise
        if line.release is not None:
            line.release.cancel()
            line.release = None
        line.watchers.add(buffer)
        latest = self._source.latest(contract.con_id)
        if latest is not None and latest.bid is not None:
            buffer.put(contract.con_id, latest)

    def unwatch(self, contracts: list[ContractSpec], buffer: ConflatingBuffer[QuoteItem]) -> None:
        for contract in contracts:
            line = self._lines.get(contract.con_id)
            if line is None:
                continue
            line.watchers.discard(buffer)
            if not line.watchers and line.release is None:
                # Owned by the line: cancelled if a watcher comes back, or when the hub closes.
                line.release = asyncio.create_task(self._release_after(contract.con_id))

    async def _release_after(self, con_id: int) -> None:
        await asyncio.sleep(self._linger)
        line = self._lines.get(con_id)
        if line is not None and not line.watchers:
            del self._lines[con_id]
            await self._source.stop(line.contract)

    def publish(self, quote: Quote) -> None:
        """The source's quote listener: hand the quote to every watcher of its contract."""
        line = self._lines.get(quote.contract.con_id)
        if line is not None:
            for buffer in line.watchers:
                buffer.put(quote.contract.con_id, quote)

    def fail(self, con_id: int, failure: SubscriptionFailure) -> None:
        line = self._lines.get(con_id)
        if line is not None:
            for buffer in line.watchers:
                buffer.put(("failure", con_id), failure)

    async def reopen(self) -> None:
        """After a reconnect: ib_async resubscribes nothing, so open every held line again."""
        for line in list(self._lines.values()):
            await self._source.start(line.contract)

    async def close(self) -> None:
        releases = [line.release for line in self._lines.values() if line.release is not None]
        for release in releases:
            release.cancel()
        await asyncio.gather(*releases, return_exceptions=True)
        self._lines.clear()
