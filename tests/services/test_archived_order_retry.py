"""An idempotent retry of an order that archival has moved out: refused, never sent again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ibkr_grpc.domain.enums import OrderStatus
from ibkr_grpc.domain.errors import OrderNotFoundError
from ibkr_grpc.store.order_archive import OrderArchiver
from tests.services.fake_broker import cancelled
from tests.services.order_harness import harness, intent, utc_now
from tests.support.waiting import eventually


async def test_a_retry_of_an_archived_orders_request_is_refused_not_sent(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = await h.manager.place(intent("archived-key"))
        h.broker.deliver(cancelled(placed.order))

        async def is_cancelled() -> bool:
            return (await h.order(placed.order.order_id)).status is OrderStatus.CANCELLED

        await eventually(is_cancelled)
        # Archival takes orders whose reports are long over (7 days at least): all applied.
        await h.manager.settled()
        later = utc_now() + timedelta(days=91)
        archiver = OrderArchiver(h.store)
        assert (await archiver.archive(timedelta(days=90), now=later)).orders == 1

        with pytest.raises(OrderNotFoundError, match="archived") as refused:
            await h.manager.place(intent("archived-key"))
        assert refused.value.metadata["order_id"] == placed.order.order_id
        assert len(h.broker.placed) == 1
