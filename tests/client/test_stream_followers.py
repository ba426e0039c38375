"""The stream followers' reconnect, backoff, RetryInfo and sequence checks, over scripted calls
(no network, no real waiting: the sleep and the random jitter are injected)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import grpc
import pytest

from ibkr.v1 import common_pb2, market_data_service_pb2, order_service_pb2
from ibkr_client import (
    ApiError,
    OrderEventFollower,
    OrderEventSequenceError,
    QuoteFollower,
    Reconnect,
    ReconnectOptions,
    RetryPolicy,
    StreamEndedError,
    is_retryable,
)
from tests.client.fake_streams import (
    HANG,
    FakeSleep,
    FakeStub,
    event,
    heartbeat,
    replay_complete,
    rpc_error,
)

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def follower(
    stub: FakeStub,
    sleep: FakeSleep,
    *,
    after_sequence: int = 0,
    account: str = "",
    replay_from_start: bool = False,
    replay_last: int = 0,
    policy: RetryPolicy | None = None,
    reconnects: list[Reconnect] | None = None,
    idle_timeout: timedelta | None = None,
) -> OrderEventFollower:
    options = ReconnectOptions(
        policy=policy or RetryPolicy(),
        sleep=sleep,
        random_fraction=lambda: 0.0,
        on_reconnect=reconnects.append if reconnects is not None else None,
        idle_timeout=idle_timeout,
    )
    return OrderEventFollower(
        cast("Any", stub),
        after_sequence=after_sequence,
        account=account,
        replay_from_start=replay_from_start,
        replay_last=replay_last,
        heartbeat_interval=timedelta(seconds=15),
        options=options,
    )


async def take(events: OrderEventFollower | QuoteFollower, count: int) -> list[object]:
    items: list[object] = [await anext(events) for _ in range(count)]
    await events.aclose()
    return items


def sequences(items: list[object]) -> list[int]:
    return [item.sequence for item in items if isinstance(item, order_service_pb2.OrderEvent)]


def requests_of(stub: FakeStub) -> list[order_service_pb2.StreamOrderEventsRequest]:
    return cast("list[order_service_pb2.StreamOrderEventsRequest]", stub.requests)


async def test_a_dropped_stream_resumes_after_the_last_event_handed_out() -> None:
    stub = FakeStub(
        [
            [event(5), event(6), replay_complete(), heartbeat(), rpc_error(UNAVAILABLE)],
            [event(7), replay_complete(), event(8), HANG],
        ]
    )
    sleep = FakeSleep()
    events = follower(stub, sleep, after_sequence=4)
    items = await take(events, 6)
    assert sequences(items) == [5, 6, 7, 8]
    assert sum(isinstance(item, common_pb2.StreamMarker) for item in items) == 2
    assert [request.after_sequence for request in requests_of(stub)] == [4, 6]
    assert events.last_sequence == 8
    assert events.reconnects == 1
    assert sleep.delays == [0.5]
    assert all(call.cancelled for call in stub.calls)


async def test_retry_info_sets_the_least_wait_and_a_server_end_is_reopened() -> None:
    stub = FakeStub(
        [
            [
                rpc_error(
                    UNAVAILABLE, reason="SERVICE_UNAVAILABLE", retry_after=timedelta(seconds=3)
                )
            ],
            [replay_complete()],  # the server ended the stream without an error
            [replay_complete(), event(1), HANG],
        ]
    )
    sleep = FakeSleep()
    reconnects: list[Reconnect] = []
    events = follower(stub, sleep, replay_from_start=True, reconnects=reconnects)
    items = await take(events, 3)
    assert sequences(items) == [1]
    # The first wait is RetryInfo's 3 s, above the backoff's 0.5 s; the stream that ended
    # without error delivered a message, so the backoff started again at 0.5 s.
    assert sleep.delays == [3.0, 0.5]
    assert [reconnect.error.reason if reconnect.error else None for reconnect in reconnects] == [
        "SERVICE_UNAVAILABLE",
        None,
    ]
    assert all(request.replay_from_start for request in requests_of(stub))


async def test_the_backoff_doubles_up_to_its_maximum_with_jitter_below_it() -> None:
    failures: list[list[object]] = [[rpc_error(UNAVAILABLE)] for _ in range(8)]
    stub = FakeStub([*failures, [event(2), HANG]])
    sleep = FakeSleep()
    policy = RetryPolicy(initial_delay=timedelta(seconds=1), maximum_delay=timedelta(seconds=10))
    fractions = iter([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.5, 0.0])
    options = ReconnectOptions(policy=policy, sleep=sleep, random_fraction=lambda: next(fractions))
    events = OrderEventFollower(
        cast("Any", stub),
        after_sequence=1,
        account="",
        replay_from_start=False,
        replay_last=0,
        heartbeat_interval=timedelta(seconds=15),
        options=options,
    )
    assert sequences(await take(events, 1)) == [2]
    # Full jitter 0.5 takes up to half the wait off: 10 s becomes 5 s and 7.5 s.
    assert sleep.delays == [1.0, 2.0, 4.0, 8.0, 10.0, 5.0, 7.5, 10.0]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, "AUTHENTICATION_FAILED"),
        (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
        (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR"),
        (grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "MARKET_DATA_LINE_LIMIT_EXCEEDED"),
        (grpc.StatusCode.INTERNAL, "INTERNAL_ERROR"),
    ],
)
async def test_a_failure_a_retry_cannot_cure_raises_api_error(
    code: grpc.StatusCode, reason: str
) -> None:
    stub = FakeStub([[event(3), rpc_error(code, "no", reason=reason)]])
    sleep = FakeSleep()
    events = follower(stub, sleep, after_sequence=2)
    assert sequences([await anext(events)]) == [3]
    with pytest.raises(ApiError) as raised:
        await anext(events)
    assert raised.value.code == code
    assert raised.value.reason == reason
    assert sleep.delays == []
    assert stub.calls[0].cancelled


async def test_resource_exhausted_with_retry_info_is_retried_after_its_delay() -> None:
    exhausted = rpc_error(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        reason="RATE_LIMIT_EXCEEDED",
        retry_after=timedelta(seconds=7),
    )
    assert is_retryable(ApiError.from_rpc_error(exhausted))
    stub = FakeStub([[exhausted], [event(10), HANG]])
    sleep = FakeSleep()
    assert sequences(await take(follower(stub, sleep, after_sequence=9), 1)) == [10]
    assert sleep.delays == [7.0]


def test_a_server_delay_is_honoured_up_to_its_cap() -> None:
    policy = RetryPolicy(maximum_server_delay=timedelta(seconds=60))
    assert policy.delay(1, random_fraction=0, server_delay=timedelta(hours=2)) == timedelta(
        seconds=60
    )
    assert policy.delay(1, random_fraction=0, server_delay=None) == timedelta(milliseconds=500)
    assert policy.delay(5000, random_fraction=0) == policy.maximum_delay


@pytest.mark.parametrize(
    "arguments",
    [
        {"initial_delay": timedelta(0)},
        {"initial_delay": timedelta(seconds=2), "maximum_delay": timedelta(seconds=1)},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"maximum_attempts": 0},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        RetryPolicy(**arguments)


async def test_a_gap_is_raised_not_skipped() -> None:
    stub = FakeStub([[event(5), event(7), HANG]])
    events = follower(stub, FakeSleep(), after_sequence=4)
    assert sequences([await anext(events)]) == [5]
    with pytest.raises(OrderEventSequenceError, match="gap: after sequence 5 came 7") as raised:
        await anext(events)
    assert raised.value.last_sequence == 5
    assert raised.value.event.sequence == 7
    assert stub.calls[0].cancelled  # the stream stops with the error
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_a_gap_at_the_resumption_is_raised() -> None:
    stub = FakeStub([[event(5), rpc_error(UNAVAILABLE)], [event(7), HANG]])
    events = follower(stub, FakeSleep(), after_sequence=4)
    assert sequences([await anext(events)]) == [5]
    with pytest.raises(OrderEventSequenceError, match="after sequence 5 came 7"):
        await anext(events)


async def test_a_repeat_is_raised() -> None:
    stub = FakeStub([[event(5), rpc_error(UNAVAILABLE)], [event(5), HANG]])
    events = follower(stub, FakeSleep(), after_sequence=4)
    await anext(events)
    with pytest.raises(OrderEventSequenceError, match="repeat"):
        await anext(events)


async def test_one_accounts_events_may_skip_sequences_but_never_repeat() -> None:
    stub = FakeStub([[event(3), event(9), rpc_error(UNAVAILABLE)], [event(12), event(12), HANG]])
    events = follower(stub, FakeSleep(), after_sequence=1, account="DU1234567")
    assert sequences([await anext(events) for _ in range(3)]) == [3, 9, 12]
    assert requests_of(stub)[1].after_sequence == 9
    assert requests_of(stub)[1].account == "DU1234567"
    with pytest.raises(OrderEventSequenceError):
        await anext(events)


async def test_a_live_start_learns_its_position_from_the_newest_event_without_handing_it_out() -> (
    None
):
    stub = FakeStub(
        [
            [event(41), replay_complete(), event(42), rpc_error(UNAVAILABLE)],
            [event(43), replay_complete(), HANG],
        ]
    )
    events = follower(stub, FakeSleep())
    items = await take(events, 4)
    assert sequences(items) == [42, 43]
    first, second = requests_of(stub)
    assert first.replay_last == 1
    assert second.after_sequence == 42
    assert second.replay_last == 0


async def test_a_live_start_on_an_empty_log_resumes_from_its_start() -> None:
    stub = FakeStub([[replay_complete(), rpc_error(UNAVAILABLE)], [event(1), HANG]])
    events = follower(stub, FakeSleep())
    assert sequences(await take(events, 2)) == [1]
    first, second = requests_of(stub)
    assert first.replay_last == 1
    assert second.replay_from_start


async def test_replay_last_is_not_asked_again_once_its_replay_is_done() -> None:
    stub = FakeStub(
        [
            [rpc_error(UNAVAILABLE)],  # before the replay: ask for it again
            [event(8), event(9), replay_complete(), rpc_error(UNAVAILABLE)],
            [replay_complete(), event(10), HANG],
        ]
    )
    events = follower(stub, FakeSleep(), replay_last=2)
    assert sequences(await take(events, 5)) == [8, 9, 10]
    assert [request.replay_last for request in requests_of(stub)] == [2, 2, 0]
    assert requests_of(stub)[2].after_sequence == 9


async def test_a_silent_stream_counts_as_dropped() -> None:
    stub = FakeStub([[event(2), HANG], [event(3), HANG]])
    reconnects: list[Reconnect] = []
    events = follower(
        stub,
        FakeSleep(),
        after_sequence=1,
        reconnects=reconnects,
        idle_timeout=timedelta(milliseconds=20),
    )
    assert sequences(await take(events, 2)) == [2, 3]
    assert stub.calls[0].cancelled
    (reconnect,) = reconnects
    assert reconnect.error is not None
    assert reconnect.error.code == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_maximum_attempts_gives_up_with_the_last_failure() -> None:
    stub = FakeStub([[rpc_error(UNAVAILABLE, "first")], [rpc_error(UNAVAILABLE, "second")]])
    sleep = FakeSleep()
    events = follower(stub, sleep, after_sequence=1, policy=RetryPolicy(maximum_attempts=1))
    with pytest.raises(ApiError, match="second"):
        await anext(events)
    assert len(sleep.delays) == 1


async def test_maximum_attempts_gives_up_on_streams_that_keep_ending() -> None:
    stub = FakeStub([[], []])
    events = follower(stub, FakeSleep(), after_sequence=1, policy=RetryPolicy(maximum_attempts=1))
    with pytest.raises(StreamEndedError):
        await anext(events)


def test_conflicting_starts_are_refused() -> None:
    with pytest.raises(ValueError, match="one of"):
        follower(FakeStub([]), FakeSleep(), after_sequence=3, replay_from_start=True)
    with pytest.raises(ValueError, match="negative"):
        follower(FakeStub([]), FakeSleep(), after_sequence=-1)


def quote(symbol: str, bid: str) -> market_data_service_pb2.Quote:
    return market_data_service_pb2.Quote(contract=common_pb2.Contract(symbol=symbol), bid=bid)


async def test_quotes_come_one_at_a_time_and_resubscribe_after_a_failure() -> None:
    contracts = [common_pb2.Contract(symbol="AAPL"), common_pb2.Contract(symbol="MSFT")]
    response = market_data_service_pb2.StreamQuotesResponse
    stub = FakeStub(
        [
            [
                response(quotes=market_data_service_pb2.QuoteBatch(
                    quotes=[quote("AAPL", "1"), quote("MSFT", "2")]
                )),
                response(heartbeat=common_pb2.Heartbeat()),
                response(quote=quote("AAPL", "3")),
                rpc_error(grpc.StatusCode.CANCELLED),
            ],
            [
                response(subscription_error=market_data_service_pb2.SubscriptionError(
                    contract=contracts[1], message="no line"
                )),
                response(quotes=market_data_service_pb2.QuoteBatch(quotes=[quote("AAPL", "4")])),
                HANG,
            ],
        ]
    )  # fmt: skip
    sleep = FakeSleep()
    quotes = QuoteFollower(
        cast("Any", stub),
        contracts,
        max_quotes_per_message=10,
        heartbeat_interval=timedelta(seconds=5),
        options=ReconnectOptions(sleep=sleep, random_fraction=lambda: 0.0),
    )
    items = await take(quotes, 5)
    assert [
        (item.contract.symbol, item.bid)
        for item in items
        if isinstance(item, market_data_service_pb2.Quote)
    ] == [("AAPL", "1"), ("MSFT", "2"), ("AAPL", "3"), ("AAPL", "4")]
    assert isinstance(items[3], market_data_service_pb2.SubscriptionError)
    first, second = cast("list[market_data_service_pb2.StreamQuotesRequest]", stub.requests)
    assert first == second
    assert first.max_quotes_per_message == 10
    assert [contract.symbol for contract in first.contracts] == ["AAPL", "MSFT"]
    assert quotes.reconnects == 1
    assert sleep.delays == [0.5]


def test_a_quote_follower_needs_contracts_and_a_batch_size_in_range() -> None:
    options = ReconnectOptions()
    with pytest.raises(ValueError, match="contract"):
        QuoteFollower(cast("Any", FakeStub([])), [], max_quotes_per_message=0,
                      heartbeat_interval=timedelta(seconds=5), options=options)  # fmt: skip
    with pytest.raises(ValueError, match="max_quotes_per_message"):
        QuoteFollower(cast("Any", FakeStub([])), [common_pb2.Contract(symbol="AAPL")],
                      max_quotes_per_message=101, heartbeat_interval=timedelta(seconds=5),
                      options=options)  # fmt: skip
