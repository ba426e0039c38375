"""Expiration: at the close of its last trading day an option is exercised or lapses, a future settles.

What the simulator does with each position when the clock passes a contract's expiry (the
regular close, 16:00 New York, of its last trading day):
- An option in the money by at least $0.01 is exercised (long) or assigned (short), as OCC
  exercises equity options "in-the-money by $0.01 or more" automatically (Exercise by
  Exception, https://www.theocc.com/clearance-and-settlement/exercise-and-assignment):
  the option leaves the account at a price of 0 and the underlying is delivered at the
  strike, the multiplier's worth per contract (a long call or a short put buys it, a long
  put or a short call sells it). An option on a future delivers the future the same way.
- Any other option expires worthless: it leaves the account at 0 (a long position realizes
  the premium paid as a loss, a short one keeps the premium).
- A future (ES and NQ are cash-settled) is closed at its last price.
Options are settled before futures, so an option on a future that expires with its future
delivers the future at the strike and the future then settles in cash at the final price.
The account subscribers hear of each changed position (position, portfolio and account
values), as after a fill; no execution is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ibkr_simulator.account import AccountBook
from ibkr_simulator.clock import Clock
from ibkr_simulator.contracts import ContractSpec, ContractUniverse, expires_at
from ibkr_simulator.prices import PriceBook

logger = logging.getLogger(__name__)

# OCC's automatic exercise threshold.
EXERCISE_THRESHOLD = 0.01

# Told (account, conId) for every position expiry changed.
PositionChanged = Callable[[str, int], None]


class ExpiryService:
    """Settles the positions in contracts whose expiry the clock has passed."""

    def __init__(
        self,
        universe: ContractUniverse,
        prices: PriceBook,
        accounts: AccountBook,
        clock: Clock,
        changed: PositionChanged,
    ) -> None:
        self._universe = universe
        self._prices = prices
        self._accounts = accounts
        self._clock = clock
        self._changed = changed

    def on_clock(self) -> None:
        for account in self._accounts.names:
            # Options first: one on a future may deliver the future that settles after it.
            for options_pass in (True, False):
                for contract in self._expired(account, options=options_pass):
                    for con_id in self._settle(account, contract):
                        self._changed(account, con_id)

    def _expired(self, account: str, *, options: bool) -> list[ContractSpec]:
        now = self._clock()
        return [
            position.contract
            for position in self._accounts.positions(account)
            if position.quantity != 0
            and position.contract.is_option == options
            and position.contract.last_trade_date
            and expires_at(position.contract.last_trade_date) <= now
        ]

    def _settle(self, account: str, contract: ContractSpec) -> list[int]:
        position = self._accounts.position(account, contract.con_id)
        if position is None or position.quantity == 0:
            return []
        quantity = position.quantity
        if contract.is_option:
            return self._expire_option(account, contract, quantity)
        price = self._prices.quote(contract.con_id).last
        self._close(account, contract, quantity, price)
        logger.info("%s settled at %s in %s", contract.local_symbol, price, account)
        return [contract.con_id]

    def _expire_option(self, account: str, contract: ContractSpec, quantity: float) -> list[int]:
        underlying = self._universe.by_con_id(contract.underlying_con_id)
        self._close(account, contract, quantity, 0.0)
        if underlying is None:
            return [contract.con_id]
        final = self._prices.quote(underlying.con_id).last
        in_the_money = final - contract.strike if contract.right == "C" else contract.strike - final
        if in_the_money < EXERCISE_THRESHOLD:
            logger.info("%s expired worthless in %s", contract.local_symbol, account)
            return [contract.con_id]
        # Long call / short put: receive the underlying; long put / short call: deliver it.
        receives = (contract.right == "C") == (quantity > 0)
        units = abs(quantity) * contract.value_multiplier / underlying.value_multiplier
        self._accounts.apply_fill(
            account,
            underlying,
            buy=receives,
            quantity=units,
            price=contract.strike,
            commission=0.0,
        )
        action = "exercised" if quantity > 0 else "assigned"
        logger.info("%s %s in %s: %s units", contract.local_symbol, action, account, units)
        return [contract.con_id, underlying.con_id]

    def _close(self, account: str, contract: ContractSpec, quantity: float, price: float) -> None:
        self._accounts.apply_fill(
            account,
            contract,
            buy=quantity < 0,
            quantity=abs(quantity),
            price=price,
            commission=0.0,
        )
