"""Helpers shared by the contract tests."""

from __future__ import annotations

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2


def http_rule_of(options: descriptor_pb2.MethodOptions) -> http_pb2.HttpRule:
    """The google.api.http annotation of a method (an empty rule when it has none)."""
    # googleapis-common-protos types the extension loosely; it is an HttpRule extension.
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]  # type: ignore[index]
    return rule
