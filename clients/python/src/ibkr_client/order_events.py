"""Follow StreamOrderEvents across dropped streams: every event exactly once, in order, no gap.

The order-event log has a global sequence that grows by one per event and never skips
(`OrderEvent.sequence` in order_service.proto). The follower remembers the last sequence it
handed out and reopens the stream with `after_sequence` set to it; the server replays what was
missed, then goes live. It checks every sequence it hands out, so a gap or a repeat (which the
contract rules out) is raised as OrderEventSequenceError instead of passing unnoticed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from types import TracebackType

from google.protobuf import duration_pb2

from ibkr.v1 import common_pb2, order_service_pb2, order_service_pb2_grpc
from ibkr_client.resilient_stream import ReconnectOptions, StreamCall, resilient_messages

OrderStreamItem = order_service_pb2.OrderEvent | common_pb2.StreamMarker


class OrderEventSequenceError(Exception):
    """An event whose sequence is not the one expected: a gap (events missing) or a repeat.

    `last_sequence` is the last sequence handed out; `event` the offending event. To go on
    anyway, follow again with `after_sequence=event.sequence - 1` (that event comes first).
    """

    def __init__(self, last_sequence: int, event: order_service_pb2.OrderEvent, *, gap: bool):
        kind = "gap" if gap else "repeat or reordering"
        super().__init__(
            f"order-event {kind}: after sequence {last_sequence} came {event.sequence}"
        )
        self.last_sequence = last_sequence
        self.event = event


class OrderEventFollower:
    """An async iterator over StreamOrderEvents that reconnects by itself (see
    IbkrClient.follow_order_events). `last_sequence` is the sequence of the last event it
    yielded (0 before the first): store it to resume in a later process. `reconnects` counts
    the reopened streams."""

    def __init__(
        self,
        stub: order_service_pb2_grpc.OrderServiceAsyncStub,
        *,
        after_sequence: int,
        account: str,
        replay_from_start: bool,
        replay_last: int,
        heartbeat_interval: timedelta,
        options: ReconnectOptions,
    ) -> None:
        if after_sequence < 0:
            raise ValueError("after_sequence must not be negative")
        if sum((after_sequence > 0, replay_from_start, replay_last > 0)) > 1:
            raise ValueError("give one of after_sequence, replay_from_start and replay_last")
        self._stub = stub
        self._account = account
        self._heartbeat = duration_pb2.Duration()
        self._heartbeat.FromTimedelta(heartbeat_interval)
        self._options = options
        self._idle_timeout = options.idle_timeout or 3 * heartbeat_interval
        self.last_sequence = after_sequence
        # Whether the next event must be last_sequence + 1: only once a position is known, and
        # only for the whole log (one account's events skip the other accounts' sequences).
        self._checks_next = after_sequence > 0 and not account
        # A live start still needs a position to resume from after a drop, so its stream
        # replays the newest stored event, which is not handed out (the anchor). Once a replay
        # is complete, replay_last is not asked again (it would hand out old events twice);
        # while no event gave a position, a reopened stream replays from the start.
        self._live_start = after_sequence == 0 and not replay_from_start and replay_last == 0
        self._replay_last = replay_last
        self._anchoring = False
        self.reconnects = -1
        self._messages: AsyncGenerator[order_service_pb2.StreamOrderEventsResponse] | None = None

    def _request(self) -> order_service_pb2.StreamOrderEventsRequest:
        request = order_service_pb2.StreamOrderEventsRequest(
            account=self._account, heartbeat_interval=self._heartbeat
        )
        if self.last_sequence > 0:
            request.after_sequence = self.last_sequence
        elif self._live_start:
            request.replay_last = 1
        elif self._replay_last > 0:
            request.replay_last = self._replay_last
        else:
            request.replay_from_start = True
        return request

    def _open(self) -> StreamCall[order_service_pb2.StreamOrderEventsResponse]:
        self.reconnects += 1
        request = self._request()
        self._anchoring = self._live_start and request.replay_last == 1
        return self._stub.StreamOrderEvents(request)

    def __aiter__(self) -> OrderEventFollower:
        return self

    async def __anext__(self) -> OrderStreamItem:
        if self._messages is None:
            self._messages = resilient_messages(
                self._open, self._options, idle_timeout=self._idle_timeout, name="order events"
            )
        async for message in self._messages:
            try:
                item = self._accept(message)
            except OrderEventSequenceError:
                await self._messages.aclose()
                raise
            if item is not None:
                return item
        raise StopAsyncIteration  # closed by aclose(), or after an OrderEventSequenceError

    def _accept(
        self, message: order_service_pb2.StreamOrderEventsResponse
    ) -> OrderStreamItem | None:
        """The item to hand out for a message, or None for one that is not handed out."""
        kind = message.WhichOneof("payload")
        if kind == "marker":
            if message.marker.type == common_pb2.STREAM_MARKER_TYPE_REPLAY_COMPLETE:
                self._anchoring = self._live_start = False
                self._replay_last = 0
            return message.marker
        if kind != "order_event":
            return None  # heartbeats only prove the stream alive; a newer payload is skipped
        event = message.order_event
        if self._anchoring:
            self.last_sequence = event.sequence
            self._checks_next = not self._account
            return None
        self._check(event)
        self.last_sequence = event.sequence
        self._checks_next = not self._account
        return event

    def _check(self, event: order_service_pb2.OrderEvent) -> None:
        if event.sequence <= self.last_sequence:
            raise OrderEventSequenceError(self.last_sequence, event, gap=False)
        if self._checks_next and event.sequence != self.last_sequence + 1:
            raise OrderEventSequenceError(self.last_sequence, event, gap=True)

    async def aclose(self) -> None:
        """Cancel the stream in progress; iterating afterwards ends at once."""
        if self._messages is not None:
            await self._messages.aclose()

    async def __aenter__(self) -> OrderEventFollower:
        return self

    async def __aexit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
