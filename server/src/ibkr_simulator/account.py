"""The account book: cash, positions with average cost, realized PnL, and the values IB derives.

Average cost includes commissions and realized PnL is net of them, as IB reports both.
Margin follows a simple Reg-T-like model (documented on `MarginRates`), enough for the
service to show and check buying power, not a replica of IB's risk engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.outgoing import PortfolioLine


@dataclass(frozen=True)
class MarginRates:
    """Initial and maintenance margin as fractions of position value."""

    stock_initial: float = 0.25
    stock_maintenance: float = 0.25
    forex_initial: float = 0.03
    forex_maintenance: float = 0.03
    # Futures: a fraction of the contract's notional value (CME's ES margin is about 6%).
    future_initial: float = 0.06
    future_maintenance: float = 0.055
    # A short option: its value plus this fraction of the strike's notional (a simplified
    # Reg-T rule); a long option cannot be bought on margin, so its whole value.
    short_option_fraction: float = 0.20
    # Day-trading buying power is four times the available funds.
    buying_power_multiple: float = 4.0


@dataclass
class Position:
    """A holding in one instrument; average cost is per contract (per share for stocks, the
    price times the multiplier for futures and options) and includes commissions, as IB
    reports it: a GC future filled at 1477.3 shows an averageCost of 147732.37
    (https://github.com/erdewit/ib_insync/issues/175)."""

    contract: ContractSpec
    quantity: float = 0.0
    average_cost: float = 0.0
    realized_pnl: float = 0.0


@dataclass
class Account:
    """One managed account."""

    name: str
    cash: float
    positions: dict[int, Position] = field(default_factory=dict)
    realized_pnl: float = 0.0
    commissions: float = 0.0


@dataclass(frozen=True)
class AccountTotals:
    """The numbers every account message is built from."""

    cash: float
    gross_position_value: float
    stock_market_value: float
    option_market_value: float
    unrealized_pnl: float
    realized_pnl: float
    net_liquidation: float
    initial_margin: float
    maintenance_margin: float
    available_funds: float
    excess_liquidity: float
    buying_power: float


@dataclass(frozen=True)
class MarginPreview:
    """A what-if order's effect on margin and equity with loan, as IB's OrderState reports it."""

    initial_before: float
    maintenance_before: float
    equity_with_loan_before: float
    initial_after: float
    maintenance_after: float
    equity_with_loan_after: float


# Turns a conId into the price positions are marked at.
MarkPrice = Callable[[ContractSpec], float]


class AccountBook:
    """All managed accounts; fills change them, market prices mark them."""

    def __init__(
        self,
        names: tuple[str, ...],
        starting_cash: float,
        base_currency: str,
        mark_price: MarkPrice,
        margin: MarginRates | None = None,
    ) -> None:
        if not names:
            raise ValueError("at least one account is needed")
        self.base_currency = base_currency
        self._accounts = {name: Account(name, starting_cash) for name in names}
        self._mark_price = mark_price
        self._margin = margin or MarginRates()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    def has(self, name: str) -> bool:
        return name in self._accounts

    def account(self, name: str) -> Account:
        return self._accounts[name]

    def positions(self, name: str) -> Iterator[Position]:
        return iter(list(self._accounts[name].positions.values()))

    def position(self, name: str, con_id: int) -> Position | None:
        return self._accounts[name].positions.get(con_id)

    def apply_fill(
        self,
        name: str,
        contract: ContractSpec,
        *,
        buy: bool,
        quantity: float,
        price: float,
        commission: float,
    ) -> float | None:
        """Book one fill; returns the realized PnL (net of commission) or None for an opening fill."""
        account = self._accounts[name]
        position = account.positions.setdefault(contract.con_id, Position(contract))
        signed = quantity if buy else -quantity
        # Cash moves by the contract value: price times multiplier (a future's notional is
        # taken out here and given back at the close; `reported_cash` undoes it).
        unit_value = price * contract.value_multiplier
        account.cash -= signed * unit_value + commission
        account.commissions += commission
        held = position.quantity
        # A short position's cost is what its sale brought in, net of commission.
        signed_commission = commission if buy else -commission
        if held == 0 or (held > 0) == buy:
            total = abs(held) * position.average_cost + quantity * unit_value + signed_commission
            position.quantity = held + signed
            position.average_cost = total / abs(position.quantity)
            return None
        closing = min(abs(held), quantity)
        direction = 1.0 if held > 0 else -1.0
        closing_commission = commission * closing / quantity
        realized = (unit_value - position.average_cost) * closing * direction - closing_commission
        position.quantity = held + signed
        if abs(position.quantity) < 1e-9:
            position.quantity = 0.0
        elif (position.quantity > 0) != (held > 0):
            # The fill flipped the position: the rest opens at this price.
            opening_commission = signed_commission * (1 - closing / quantity)
            position.average_cost = unit_value + opening_commission / abs(position.quantity)
        position.realized_pnl += realized
        account.realized_pnl += realized
        return realized

    def margin_preview(
        self, name: str, contract: ContractSpec, signed_quantity: float, price: float
    ) -> MarginPreview:
        """What-if: margins and equity before and after a fill of `signed_quantity` at `price`."""
        before = self.totals(name)
        account = self._accounts[name]
        held = account.positions.get(contract.con_id)
        quantity = held.quantity if held else 0.0
        mark = self._mark_price(contract)
        initial_now, maintenance_now = self._margins(contract, quantity, mark)
        initial_then, maintenance_then = self._margins(contract, quantity + signed_quantity, price)
        initial_change = initial_then - initial_now
        maintenance_change = maintenance_then - maintenance_now
        return MarginPreview(
            initial_before=before.initial_margin,
            maintenance_before=before.maintenance_margin,
            equity_with_loan_before=before.net_liquidation,
            initial_after=before.initial_margin + initial_change,
            maintenance_after=before.maintenance_margin + maintenance_change,
            equity_with_loan_after=before.net_liquidation,
        )

    def _margins(
        self, contract: ContractSpec, quantity: float, price: float
    ) -> tuple[float, float]:
        """(initial, maintenance) margin of holding `quantity` at `price`."""
        rates = self._margin
        value = abs(quantity) * price * contract.value_multiplier
        if contract.is_option:
            if quantity >= 0:
                return value, value
            cover = abs(quantity) * contract.strike * contract.value_multiplier
            requirement = value + rates.short_option_fraction * cover
            return requirement, requirement
        if contract.is_future:
            return value * rates.future_initial, value * rates.future_maintenance
        if contract.is_forex:
            return value * rates.forex_initial, value * rates.forex_maintenance
        return value * rates.stock_initial, value * rates.stock_maintenance

    def portfolio_line(self, position: Position) -> PortfolioLine:
        """One updatePortfolio row: the price per unit, the value and PnL per position."""
        mark = self._mark_price(position.contract)
        value = position.quantity * mark * position.contract.value_multiplier
        return PortfolioLine(
            contract=position.contract,
            quantity=position.quantity,
            market_price=mark,
            market_value=value,
            average_cost=position.average_cost,
            unrealized_pnl=value - position.quantity * position.average_cost,
            realized_pnl=position.realized_pnl,
        )

    def totals(self, name: str) -> AccountTotals:
        account = self._accounts[name]
        gross = stock_value = option_value = unrealized = initial = maintenance = 0.0
        # The notional of open futures, which `cash` holds as if it had been paid.
        futures_cost = 0.0
        net_liquidation = account.cash
        for position in account.positions.values():
            contract = position.contract
            line = self.portfolio_line(position)
            unrealized += line.unrealized_pnl
            net_liquidation += line.market_value
            position_initial, position_maintenance = self._margins(
                contract, position.quantity, line.market_price
            )
            initial += position_initial
            maintenance += position_maintenance
            if contract.is_future:
                futures_cost += position.quantity * position.average_cost
                continue
            gross += abs(line.market_value)
            if contract.is_option:
                option_value += line.market_value
            elif not contract.is_forex:
                stock_value += line.market_value
        available = net_liquidation - initial
        return AccountTotals(
            cash=account.cash + futures_cost,
            gross_position_value=gross,
            stock_market_value=stock_value,
            option_market_value=option_value,
            unrealized_pnl=unrealized,
            realized_pnl=account.realized_pnl,
            net_liquidation=net_liquidation,
            initial_margin=initial,
            maintenance_margin=maintenance,
            available_funds=available,
            excess_liquidity=net_liquidation - maintenance,
            buying_power=max(0.0, available) * self._margin.buying_power_multiple,
        )

    def values(self, name: str) -> list[tuple[str, str, str]]:
        """(key, value, currency) rows as reqAccountUpdates reports them."""
        totals = self.totals(name)
        base = self.base_currency
        money = {
            "NetLiquidation": totals.net_liquidation,
            "TotalCashValue": totals.cash,
            "SettledCash": totals.cash,
            "AccruedCash": 0.0,
            "BuyingPower": totals.buying_power,
            "EquityWithLoanValue": totals.net_liquidation,
            "PreviousDayEquityWithLoanValue": totals.net_liquidation,
            "GrossPositionValue": totals.gross_position_value,
            "RegTEquity": totals.net_liquidation,
            "RegTMargin": totals.initial_margin,
            "SMA": max(0.0, totals.available_funds),
            "InitMarginReq": totals.initial_margin,
            "MaintMarginReq": totals.maintenance_margin,
            "AvailableFunds": totals.available_funds,
            "ExcessLiquidity": totals.excess_liquidity,
            "FullInitMarginReq": totals.initial_margin,
            "FullMaintMarginReq": totals.maintenance_margin,
            "FullAvailableFunds": totals.available_funds,
            "FullExcessLiquidity": totals.excess_liquidity,
            "LookAheadInitMarginReq": totals.initial_margin,
            "LookAheadMaintMarginReq": totals.maintenance_margin,
            "LookAheadAvailableFunds": totals.available_funds,
            "LookAheadExcessLiquidity": totals.excess_liquidity,
            "RealizedPnL": totals.realized_pnl,
            "UnrealizedPnL": totals.unrealized_pnl,
            "StockMarketValue": totals.stock_market_value,
            "OptionMarketValue": totals.option_market_value,
        }
        rows = [(key, f"{value:.2f}", base) for key, value in money.items()]
        cushion = totals.excess_liquidity / totals.net_liquidation if totals.net_liquidation else 0
        leverage = (
            totals.gross_position_value / totals.net_liquidation if totals.net_liquidation else 0
        )
        rows += [
            ("AccountCode", name, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("AccountReady", "true", ""),
            ("Currency", base, base),
            ("Cushion", f"{cushion:.6f}", ""),
            ("Leverage-S", f"{leverage:.4f}", ""),
            ("DayTradesRemaining", "-1", ""),
            ("LookAheadNextChange", "0", ""),
            ("HighestSeverity", "0", ""),
            ("CashBalance", f"{totals.cash:.2f}", base),
            ("CashBalance", f"{totals.cash:.2f}", "BASE"),
            ("TotalCashBalance", f"{totals.cash:.2f}", "BASE"),
            ("NetLiquidationByCurrency", f"{totals.net_liquidation:.2f}", "BASE"),
            ("ExchangeRate", "1.00", base),
        ]
        return rows

    def summary(self, name: str, tags: set[str]) -> list[tuple[str, str, str]]:
        """(tag, value, currency) rows for reqAccountSummary; $LEDGER adds the cash ledger."""
        rows = self.values(name)
        wanted = set(tags)
        ledger = any(tag.startswith("$LEDGER") for tag in wanted)
        ledger_keys = {"CashBalance", "TotalCashBalance", "NetLiquidationByCurrency"}
        aliases = {"Leverage": "Leverage-S", "DayTradesRemainingT+1": "DayTradesRemaining"}
        result: list[tuple[str, str, str]] = []
        for tag in tags:
            key = aliases.get(tag, tag)
            result += [
                (tag, value, "" if currency == "" else currency)
                for row_key, value, currency in rows
                if row_key == key and currency != "BASE" and key not in ledger_keys
            ]
        if ledger:
            result += [row for row in rows if row[0] in ledger_keys]
        return result

    def pnl(self, name: str) -> tuple[float, float, float]:
        """(daily, unrealized, realized); the simulated day starts when the simulator does."""
        totals = self.totals(name)
        return (
            totals.unrealized_pnl + totals.realized_pnl,
            totals.unrealized_pnl,
            totals.realized_pnl,
        )

    def pnl_single(self, name: str, con_id: int) -> tuple[float, float, float, float, float]:
        """(position, daily, unrealized, realized, value) for one instrument."""
        position = self._accounts[name].positions.get(con_id)
        if position is None:
            return (0.0, 0.0, 0.0, 0.0, 0.0)
        line = self.portfolio_line(position)
        daily = line.unrealized_pnl + position.realized_pnl
        return (
            position.quantity,
            daily,
            line.unrealized_pnl,
            position.realized_pnl,
            line.market_value,
        )
