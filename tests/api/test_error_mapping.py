"""The one place exceptions become statuses: a gateway socket failure nobody translated is the
retryable IB_CONNECTION_FAILED, anything else unexpected is INTERNAL without its text."""

from __future__ import annotations

from google.rpc import code_pb2, error_details_pb2

from ibkr_grpc.api.errors import status_for_exception


def reason_of(status_details: list[object]) -> str:
    for detail in status_details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):  # type: ignore[attr-defined]
            return info.reason
    return ""


def test_a_lost_gateway_connection_is_retryable() -> None:
    status = status_for_exception(ConnectionError("Socket disconnect"), "req-1")
    assert status.code == code_pb2.UNAVAILABLE
    assert reason_of(list(status.details)) == "IB_CONNECTION_FAILED"
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status.details)


def test_anything_else_unexpected_is_internal_and_says_nothing() -> None:
    status = status_for_exception(KeyError("secret internals"), "req-2")
    assert status.code == code_pb2.INTERNAL
    assert "secret" not in status.message
    assert reason_of(list(status.details)) == "INTERNAL_ERROR"
