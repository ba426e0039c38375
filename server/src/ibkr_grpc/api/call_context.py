"""Per-call context: the request id, bound into every log line of the call and sent back."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

REQUEST_ID_KEY = "x-request-id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The caller's x-request-id when it is sane, else a new one."""
    for key, value in metadata or ():
        if (
            key == REQUEST_ID_KEY
            and isinstance(value, str)
            and _ACCEPTABLE_REQUEST_ID.fullmatch(value)
        ):
            return value
    return uuid.uuid4().hex


def metadata_value(metadata: Iterable[tuple[str, Any]] | None, wanted: str) -> str:
    for key, value in metadata or ():
        if key == wanted and isinstance(value, str):
            return value
    return ""
