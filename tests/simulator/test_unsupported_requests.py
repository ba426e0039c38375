"""Requests for what the simulator does not model get an answer that names the request.

ib_async ends a pending request only on a non-warning error that carries its request id
(wrapper.py `error`: `isRequest = reqId in self._futures`; 321 is in its warningCodes). IB's
321 is "Server error when validating an API client request"
(https://interactivebrokers.github.io/tws-api/message_codes.html).
"""

from __future__ import annotations

import time

from ib_async import IB, Future, Option

from ibkr_simulator import Simulator
from tests.simulator.support import connected


def _errors(ib: IB) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    ib.errorEvent += lambda request, code, _text, _contract: seen.append((request, code))
    return seen


async def test_option_chain_parameters_of_an_underlying_without_options_end_at_once(
    simulator: Simulator,
) -> None:
    # EUR.USD lists no options: securityDefinitionOptionParameterEnd alone
    # (https://interactivebrokers.github.io/tws-api/options.html: parameters arrive through
    # securityDefinitionOptionParameter, then the End callback).
    async with connected(simulator) as ib:
        ib.RequestTimeout = 30
        errors = _errors(ib)
        started = time.monotonic()
        chains = await ib.reqSecDefOptParamsAsync("EUR", "", "CASH", 12087792)
        assert time.monotonic() - started < 2.0
        assert chains == []
        assert errors == []


async def test_unlisted_futures_and_options_contract_details_end_with_200_for_their_request(
    simulator: Simulator,
) -> None:
    # IB's 200: "No security definition has been found for the request" (message-code table);
    # a real log of it for an option's contract details, with the request id:
    # https://github.com/QuantConnect/Lean/issues/3728. ES lists no November contract and
    # AAPL no option that far out.
    async with connected(simulator) as ib:
        ib.RequestTimeout = 30
        errors = _errors(ib)
        started = time.monotonic()
        future = await ib.reqContractDetailsAsync(Future("ES", "202611", "CME"))
        option = await ib.reqContractDetailsAsync(
            Option("AAPL", "20261218", 200, "C", "SMART", currency="USD")
        )
        assert time.monotonic() - started < 2.0
        assert future == option == []
        assert [code for _, code in errors] == [200, 200]
        assert all(request_id > 0 for request_id, _ in errors)
