"""The instant every simulator in the tests starts its clock at, so tests pass at any wall time.

The simulated gateway keeps IB's trading hours: outside them orders are held until the open and
DAY orders expire at the close. A fixed Tuesday morning inside regular hours (10:00 New York,
March 3, 2026, before daylight saving time) gives every test a market that is open for hours.
"""

from __future__ import annotations

from datetime import UTC, datetime

TRADING_MORNING = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
TRADING_MORNING_TEXT = TRADING_MORNING.isoformat()
