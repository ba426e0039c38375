"""What an engine needs from a client connection: who it is and a way to send it a message."""

from __future__ import annotations

from typing import Protocol

from ibkr_simulator.outgoing import Message


class Recipient(Protocol):
    """A connected API client; `send` never blocks (the session queues and writes)."""

    @property
    def connection_id(self) -> int: ...

    @property
    def client_id(self) -> int: ...

    @property
    def server_version(self) -> int: ...

    def send(self, message: Message) -> None: ...
