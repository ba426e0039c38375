"""The IB subscriptions a reader holds, by the reader's own key and by IB's request id: their
acceptance (IB answers a subscription with data, or refuses it with an error on its request
id) and their failures afterwards, shared by the market-depth and tick-by-tick readers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from ibkr_grpc.broker.subscription_answers import (
    GatewayClock,
    SubscriptionAnswers,
    is_notice,
    subscription_error,
)
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError


class Held(Protocol):
    @property
    def request_id(self) -> int: ...

    @property
    def contract_spec(self) -> ContractSpec: ...


K = TypeVar("K")
H = TypeVar("H", bound=Held)


class HeldSubscriptions(Generic[K, H]):
    def __init__(self, gateway_clock: GatewayClock, *, request_timeout: float) -> None:
        self._answers = SubscriptionAnswers(gateway_clock, timeout=request_timeout)
        self._held: dict[K, H] = {}
        self._by_request: dict[int, K] = {}
        self._failure_listeners: list[Callable[[K, ServiceError], None]] = []

    def add_failure_listener(self, listener: Callable[[K, ServiceError], None]) -> None:
        self._failure_listeners.append(listener)

    def __len__(self) -> int:
        return len(self._held)

    def get(self, key: K) -> H | None:
        return self._held.get(key)

    async def hold(self, key: K, held: H) -> None:
        """Hold `held` under `key` (replacing what was there) and wait for IB's first answer;
        raises what IB refused it with, holding nothing then."""
        self.forget(key)
        self._held[key] = held
        self._by_request[held.request_id] = key
        self._answers.expect(held.request_id)
        try:
            await self._answers.wait(held.request_id)
        except BaseException:
            self.forget(key)
            raise

    def forget(self, key: K) -> H | None:
        held = self._held.pop(key, None)
        if held is not None:
            self._by_request.pop(held.request_id, None)
        return held

    def data(self, held: H) -> None:
        """Data came for `held`: IB accepted it."""
        self._answers.data(held.request_id)

    def on_error(self, request_id: int, code: int, message: str) -> None:
        """ib_async's errorEvent: a refusal of a subscription being started (its hold()
        raises it), or the end of a held one (its failure listeners hear it)."""
        key = self._by_request.get(request_id)
        if key is None or is_notice(code):
            return
        error = subscription_error(code, message, self._held[key].contract_spec)
        if self._answers.refused(request_id, error):
            return
        self.forget(key)
        for listener in tuple(self._failure_listeners):
            listener(key, error)
