"""One API connection: the version handshake, startApi, and a reader and a writer with a bounded queue.

Outgoing messages wait in a bounded queue drained by a writer task. A client that stops
reading until the queue is full is dropped, as a real gateway drops a stuck client, because
buffering without bound would only move the problem into the simulator's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from ibkr_simulator import codes, outgoing
from ibkr_simulator.config import MAXIMUM_SERVER_VERSION, MINIMUM_SERVER_VERSION, Limits
from ibkr_simulator.limits import MessageRateLimiter, RateVerdict
from ibkr_simulator.outgoing import Message
from ibkr_simulator.tasks import TaskOwner
from ibkr_simulator.wire import API_PREFIX, ProtocolError, decode_body, encode_message, read_frame

logger = logging.getLogger(__name__)

# Seconds a client gets to finish the handshake and send startApi.
HANDSHAKE_TIMEOUT = 10.0
# Seconds a closing session waits for its queued messages to reach the socket.
FLUSH_TIMEOUT = 2.0


class SessionHost(Protocol):
    """What a session needs from the simulator that accepted it."""

    def clock_text(self) -> str: ...

    def register(self, session: Session) -> bool: ...

    def unregister(self, session: Session) -> None: ...

    def greet(self, session: Session) -> None: ...

    def dispatch(self, session: Session, fields: list[str]) -> None: ...

    def response_delay(self, fields: list[str]) -> float: ...


class HandshakeRefusedError(Exception):
    """The client's version range does not overlap what the simulator serves."""


def negotiate_version(text: str) -> int:
    """Pick the server version for a client's 'vMIN..MAX' string (options after a space)."""
    if not text.startswith("v"):
        raise ProtocolError(f"expected a version range, got {text!r}")
    versions = text[1:].split(" ", 1)[0]
    low_text, _, high_text = versions.partition("..")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError as error:
        raise ProtocolError(f"bad version range {text!r}") from error
    if high < MINIMUM_SERVER_VERSION or low > MAXIMUM_SERVER_VERSION:
        raise HandshakeRefusedError(
            f"client versions {low}..{high} do not overlap the simulator's "
            f"{MINIMUM_SERVER_VERSION}..{MAXIMUM_SERVER_VERSION}"
        )
    return min(high, MAXIMUM_SERVER_VERSION)


class Session:
    """A connected API client, from the first byte to the closed socket."""

    def __init__(
        self,
        host: SessionHost,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection_id: int,
        limits: Limits,
        queue_size: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._host = host
        self._reader = reader
        self._writer = writer
        self._connection_id = connection_id
        self._client_id = -1
        self._server_version = 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_size)
        self._tasks = TaskOwner(f"session-{connection_id}")
        self._rate = MessageRateLimiter(limits)
        self._limits = limits
        self._monotonic = monotonic
        self._closed = False
        self._registered = False
        self._writer_task: asyncio.Task[None] | None = None
        # Requests held back by the delay-responses fault, with the time each is due.
        self._delayed: asyncio.Queue[tuple[float, list[str]]] = asyncio.Queue(maxsize=queue_size)
        self._delayed_pending = 0

    @property
    def connection_id(self) -> int:
        return self._connection_id

    @property
    def client_id(self) -> int:
        return self._client_id

    @property
    def server_version(self) -> int:
        return self._server_version

    @property
    def is_open(self) -> bool:
        return not self._closed

    def send(self, message: Message) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(encode_message(message))
        except asyncio.QueueFull:
            logger.warning("client %s is not reading; dropping the connection", self._client_id)
            self.abort()

    def abort(self) -> None:
        """Drop the connection now, without flushing (a gateway crash or a stuck client)."""
        self._closed = True
        self._writer.transport.abort()

    async def run(self) -> None:
        """Serve the connection until either side closes it."""
        self._writer_task = self._tasks.start(self._write_loop(), "writer")
        self._tasks.start(self._delayed_loop(), "delayed-requests")
        try:
            await asyncio.wait_for(self._handshake(), HANDSHAKE_TIMEOUT)
            if not self._host.register(self):
                self._send_raw_error(
                    codes.CLIENT_ID_IN_USE,
                    "Unable to connect as the client id is already in use. "
                    "Retry with a unique client id.",
                )
                return
            self._registered = True
            logger.info(
                "client %s connected (server version %s)", self._client_id, self._server_version
            )
            self._host.greet(self)
            await self._read_loop()
        except HandshakeRefusedError as refusal:
            logger.warning("refused connection %s: %s", self._connection_id, refusal)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            logger.debug("connection %s ended", self._connection_id)
        except ProtocolError as error:
            logger.warning("protocol error on connection %s: %s", self._connection_id, error)
        finally:
            if self._registered:
                self._host.unregister(self)
                logger.info("client %s disconnected", self._client_id)
            await self.close()

    async def close(self) -> None:
        """Flush what is queued, then close the socket; safe to call more than once."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)
            if self._writer_task is not None:
                await asyncio.wait({self._writer_task}, timeout=FLUSH_TIMEOUT)
        await self._tasks.close()
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    async def _handshake(self) -> None:
        prefix = await self._reader.readexactly(len(API_PREFIX))
        if prefix != API_PREFIX:
            raise ProtocolError(f"expected the API prefix, got {prefix!r}")
        version_text = (await read_frame(self._reader)).decode(errors="replace")
        self._server_version = negotiate_version(version_text)
        self._queue.put_nowait(encode_message([self._server_version, self._host.clock_text()]))
        fields = decode_body(await read_frame(self._reader))
        if not fields or fields[0] != "71":
            raise ProtocolError(f"expected startApi, got {fields[:1]!r}")
        try:
            self._client_id = int(fields[2])
        except (IndexError, ValueError) as error:
            raise ProtocolError("startApi without a client id") from error

    async def _read_loop(self) -> None:
        while not self._closed:
            fields = decode_body(await read_frame(self._reader))
            verdict = self._rate.record(self._monotonic())
            if verdict is RateVerdict.APPROACHING:
                self._send_raw_error(
                    codes.MESSAGE_RATE_APPROACHING,
                    f"Warning: Approaching max rate of {self._limits.messages_per_second} "
                    f"messages per second ({self._rate.current_rate})",
                )
            if verdict in {RateVerdict.WARN, RateVerdict.DISCONNECT}:
                self._send_raw_error(
                    codes.MESSAGE_RATE_EXCEEDED,
                    "Max rate of messages per second has been exceeded:"
                    f"max={self._limits.messages_per_second} rec={self._rate.current_rate}",
                )
            if verdict is RateVerdict.DISCONNECT:
                logger.warning("client %s exceeded the message rate; closing", self._client_id)
                return
            if not fields:
                continue
            delay = self._host.response_delay(fields)
            if delay > 0 or self._delayed_pending:
                # Each request is answered `delay` after it arrived, in arrival order.
                self._delayed_pending += 1
                await self._delayed.put((self._monotonic() + delay, fields))
            else:
                self._dispatch(fields)

    async def _delayed_loop(self) -> None:
        while True:
            due, fields = await self._delayed.get()
            wait = due - self._monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._delayed_pending -= 1
            if not self._closed:
                self._dispatch(fields)

    def _dispatch(self, fields: list[str]) -> None:
        try:
            self._host.dispatch(self, fields)
        except ProtocolError as error:
            logger.warning("malformed request %s: %s", fields[:1], error)
            self._send_raw_error(
                codes.NOT_VALID_REQUEST, f"Error validating request: {error}", fields
            )
        except Exception:
            # A simulator bug must not look like a network failure to the client under
            # test: log it loudly and answer the request with an error instead.
            logger.exception("request %s failed inside the simulator", fields[:1])
            self._send_raw_error(
                codes.NOT_VALID_REQUEST, "Error validating request: simulator failure", fields
            )

    def _send_raw_error(self, code: int, text: str, fields: list[str] | None = None) -> None:
        request_id = -1
        if fields and len(fields) > 2 and fields[2].lstrip("-").isdigit():
            request_id = int(fields[2])
        self.send(outgoing.error(self._server_version, request_id, code, text))

    async def _write_loop(self) -> None:
        try:
            while True:
                data = await self._queue.get()
                if data is None:
                    return
                self._writer.write(data)
                await self._writer.drain()
        except ConnectionError:
            # The client went away mid-write; the reader sees the same and ends the session.
            self.abort()
