"""Heartbeats and markers as ibkr.v1 messages."""

from __future__ import annotations

from ibkr.v1 import common_pb2
from ibkr_grpc.api.conversions import timestamp
from ibkr_grpc.domain.streams import Heartbeat, Marker, MarkerType

MARKER_TYPES = {
    marker_type: common_pb2.StreamMarkerType.Value(f"STREAM_MARKER_TYPE_{marker_type.value}")
    for marker_type in MarkerType
}


def heartbeat_message(heartbeat: Heartbeat) -> common_pb2.Heartbeat:
    return common_pb2.Heartbeat(server_time=timestamp(heartbeat.server_time))


def marker_message(marker: Marker) -> common_pb2.StreamMarker:
    return common_pb2.StreamMarker(
        type=MARKER_TYPES[marker.marker_type], time=timestamp(marker.time), detail=marker.detail
    )
