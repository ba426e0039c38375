"""What server streams carry besides their data: heartbeats and status markers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MarkerType(StrEnum):
    SNAPSHOT_COMPLETE = "SNAPSHOT_COMPLETE"
    REPLAY_COMPLETE = "REPLAY_COMPLETE"
    GATEWAY_DISCONNECTED = "GATEWAY_DISCONNECTED"
    GATEWAY_RECONCILED = "GATEWAY_RECONCILED"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    server_time: datetime


@dataclass(frozen=True, slots=True)
class Marker:
    marker_type: MarkerType
    time: datetime
    detail: str = ""
