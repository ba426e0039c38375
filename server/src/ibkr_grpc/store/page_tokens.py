"""Opaque AIP-158 page tokens: a keyset position plus a fingerprint of the filters it belongs to."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from ibkr_grpc.domain.errors import FieldViolation, ValidationError


@dataclass(frozen=True, slots=True)
class PagePosition:
    """The last row of the previous page, by the listing's sort key (time, id)."""

    time: datetime
    key: str


def filter_fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode(position: PagePosition, fingerprint: str) -> str:
    payload = {"t": position.time.isoformat(), "k": position.key, "f": fingerprint}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode(token: str, fingerprint: str) -> PagePosition | None:
    """The position in `token`, None for the first page; a foreign or stale token is refused."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = PagePosition(datetime.fromisoformat(payload["t"]), str(payload["k"]))
        matches = payload["f"] == fingerprint
    except (ValueError, KeyError, TypeError, binascii.Error):
        matches = False
        position = None
    if not matches or position is None:
        raise ValidationError(
            [FieldViolation("page_token", "is not a token from this listing with these filters")]
        )
    return position
