"""Audit entries: who did what, when, with which request id, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    audit_time: datetime
    subject: str
    action: str
    request_id: str
    target: str
    outcome: str
    detail: dict[str, str] = field(default_factory=dict)
