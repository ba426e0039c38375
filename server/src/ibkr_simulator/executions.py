"""One execution of an order: what it is charged and what execDetails reports of it."""

from __future__ import annotations

from ibkr_simulator.config import FillPolicy
from ibkr_simulator.order_model import SimulatedOrder
from ibkr_simulator.order_rules import commission_for
from ibkr_simulator.outgoing import ExecutionReport


def commission_of_execution(
    policy: FillPolicy, order: SimulatedOrder, quantity: float, price: float
) -> float:
    """What this execution adds to the order's commission so far.

    IB's minimum and cap apply per order, so a sweep through several price levels is not
    charged a minimum per level (IB: "They do not charge the order fees for multiple fills at
    multiple prices", https://www.elitetrader.com/et/threads/ib-commissions-changes.125744/page-4).
    """
    filled = order.filled + quantity
    average = (order.filled * order.average_fill_price + quantity * price) / filled
    total = commission_for(policy, order.contract, filled, average)
    return round(max(0.0, total - order.commission_charged), 4)


def execution_report(
    order: SimulatedOrder, execution_id: str, time: str, quantity: float, price: float
) -> ExecutionReport:
    """execDetails for an execution already applied to `order` (cumQty and avgPrice include it)."""
    contract = order.contract
    return ExecutionReport(
        execution_id=execution_id,
        order_id=order.order_id,
        client_id=order.client_id,
        perm_id=order.perm_id,
        account=order.account,
        contract=contract,
        exchange=contract.primary_exchange if contract.sec_type == "STK" else contract.exchange,
        time=time,
        side="BOT" if order.is_buy else "SLD",
        shares=quantity,
        price=price,
        cumulative_quantity=order.filled,
        average_price=order.average_fill_price,
        order_reference=order.order_reference,
        # 2: the execution removed liquidity, as an order that takes the book does.
        last_liquidity=2,
    )
