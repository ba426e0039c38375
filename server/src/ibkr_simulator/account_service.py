"""Account subscriptions: account updates, positions, summaries and PnL, pushed on fills and on a timer."""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_simulator import codes, outgoing
from ibkr_simulator.account import AccountBook
from ibkr_simulator.clock import Clock
from ibkr_simulator.recipient import Recipient

SubscriptionKey = tuple[int, int]


@dataclass(frozen=True)
class MultiSubscription:
    recipient: Recipient
    request_id: int
    account: str


@dataclass(frozen=True)
class SummarySubscription:
    recipient: Recipient
    request_id: int
    tags: frozenset[str]


@dataclass(frozen=True)
class PnlSubscription:
    recipient: Recipient
    request_id: int
    account: str
    # None for account PnL, a conId for reqPnLSingle.
    con_id: int | None


class AccountService:
    """Who asked for which account data, and the messages each of them receives."""

    def __init__(self, book: AccountBook, clock: Clock, summary_limit: int = 2) -> None:
        self._book = book
        self._clock = clock
        self._summary_limit = summary_limit
        self._updates: dict[int, tuple[Recipient, str]] = {}
        self._positions: dict[int, Recipient] = {}
        self._multi: dict[SubscriptionKey, MultiSubscription] = {}
        self._summaries: dict[SubscriptionKey, SummarySubscription] = {}
        self._pnl: dict[SubscriptionKey, PnlSubscription] = {}

    @property
    def pnl_subscriptions(self) -> int:
        """Account and single-position PnL subscriptions held, over every connection."""
        return len(self._pnl)

    def resolve_account(self, requested: str) -> str | None:
        if not requested or requested.upper() == "ALL":
            return self._book.names[0]
        return requested if self._book.has(requested) else None

    # Requests -----------------------------------------------------------------------------

    def request_updates(self, recipient: Recipient, account: str, *, subscribe: bool) -> None:
        if not subscribe:
            self._updates.pop(recipient.connection_id, None)
            return
        self._updates[recipient.connection_id] = (recipient, account)
        self._send_account_updates(recipient, account, con_id=None)
        recipient.send(outgoing.account_download_end(account))

    def request_positions(self, recipient: Recipient) -> None:
        self._positions[recipient.connection_id] = recipient
        for account in self._book.names:
            for position in self._book.positions(account):
                recipient.send(
                    outgoing.position(
                        account, position.contract, position.quantity, position.average_cost
                    )
                )
        recipient.send(outgoing.position_end())

    def cancel_positions(self, recipient: Recipient) -> None:
        self._positions.pop(recipient.connection_id, None)

    def request_multi(self, recipient: Recipient, request_id: int, account: str) -> None:
        subscription = MultiSubscription(recipient, request_id, account)
        self._multi[(recipient.connection_id, request_id)] = subscription
        self._send_multi(subscription)
        recipient.send(outgoing.account_update_multi_end(request_id))

    def cancel_multi(self, recipient: Recipient, request_id: int) -> None:
        self._multi.pop((recipient.connection_id, request_id), None)

    def request_summary(self, recipient: Recipient, request_id: int, tags: str) -> None:
        held = sum(1 for key in self._summaries if key[0] == recipient.connection_id)
        if held >= self._summary_limit:
            # IB's 322 "Server error when processing an API client request", with the cause.
            recipient.send(
                outgoing.error(
                    recipient.server_version,
                    request_id,
                    codes.ACCOUNT_SUMMARY_LIMIT,
                    "Error processing request: Maximum number of account summary requests exceeded",
                )
            )
            return
        wanted = frozenset(tag.strip() for tag in tags.split(",") if tag.strip())
        subscription = SummarySubscription(recipient, request_id, wanted)
        self._summaries[(recipient.connection_id, request_id)] = subscription
        self._send_summary(subscription)
        recipient.send(outgoing.account_summary_end(request_id))

    def cancel_summary(self, recipient: Recipient, request_id: int) -> None:
        self._summaries.pop((recipient.connection_id, request_id), None)

    def request_pnl(
        self, recipient: Recipient, request_id: int, account: str, con_id: int | None
    ) -> None:
        subscription = PnlSubscription(recipient, request_id, account, con_id)
        self._pnl[(recipient.connection_id, request_id)] = subscription
        self._send_pnl(subscription)

    def cancel_pnl(self, recipient: Recipient, request_id: int) -> None:
        self._pnl.pop((recipient.connection_id, request_id), None)

    def drop_recipient(self, recipient: Recipient) -> None:
        connection = recipient.connection_id
        self._updates.pop(connection, None)
        self._positions.pop(connection, None)
        for table in (self._multi, self._summaries, self._pnl):
            for key in [key for key in table if key[0] == connection]:
                del table[key]

    # Pushes -------------------------------------------------------------------------------

    def after_fill(self, account: str, con_id: int) -> None:
        """A fill changed one position: every subscriber hears about it at once."""
        position = self._book.position(account, con_id)
        if position is not None:
            for recipient in self._positions.values():
                recipient.send(
                    outgoing.position(
                        account, position.contract, position.quantity, position.average_cost
                    )
                )
        for recipient, subscribed in self._updates.values():
            if subscribed == account:
                self._send_account_updates(recipient, account, con_id=con_id)
        self.push_periodic(accounts={account})

    def push_periodic(self, accounts: set[str] | None = None) -> None:
        """Refresh marks: portfolio, account values, summaries and PnL."""
        self.push_account_values(accounts)
        self.push_pnl(accounts)

    def push_account_values(self, accounts: set[str] | None = None) -> None:
        """Portfolio, account values and summaries: IB's three-minute refresh."""
        if accounts is None:
            for recipient, account in self._updates.values():
                self._send_account_updates(recipient, account, con_id=None)
        for subscription in self._multi.values():
            if accounts is None or subscription.account in accounts:
                self._send_multi(subscription)
        for summary in self._summaries.values():
            self._send_summary(summary)

    def push_pnl(self, accounts: set[str] | None = None) -> None:
        """reqPnL and reqPnLSingle subscriptions: IB's once-a-second refresh."""
        for pnl in self._pnl.values():
            if accounts is None or pnl.account in accounts:
                self._send_pnl(pnl)

    def _send_account_updates(self, recipient: Recipient, account: str, con_id: int | None) -> None:
        for key, value, currency in self._book.values(account):
            recipient.send(outgoing.account_value(key, value, currency, account))
        for position in self._book.positions(account):
            if con_id is None or position.contract.con_id == con_id:
                line = self._book.portfolio_line(position)
                recipient.send(outgoing.portfolio_value(line, account))
        recipient.send(outgoing.account_update_time(self._clock().strftime("%H:%M")))

    def _send_multi(self, subscription: MultiSubscription) -> None:
        for key, value, currency in self._book.values(subscription.account):
            subscription.recipient.send(
                outgoing.account_update_multi(
                    subscription.request_id, subscription.account, "", key, value, currency
                )
            )

    def _send_summary(self, subscription: SummarySubscription) -> None:
        for account in self._book.names:
            for tag, value, currency in self._book.summary(account, set(subscription.tags)):
                subscription.recipient.send(
                    outgoing.account_summary(subscription.request_id, account, tag, value, currency)
                )

    def _send_pnl(self, subscription: PnlSubscription) -> None:
        if subscription.con_id is None:
            daily, unrealized, realized = self._book.pnl(subscription.account)
            subscription.recipient.send(
                outgoing.pnl(subscription.request_id, daily, unrealized, realized)
            )
            return
        quantity, daily, unrealized, realized, value = self._book.pnl_single(
            subscription.account, subscription.con_id
        )
        subscription.recipient.send(
            outgoing.pnl_single(
                subscription.request_id, quantity, daily, unrealized, realized, value
            )
        )
