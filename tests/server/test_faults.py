"""Faults of every kind mid-burst, end to end: PostgreSQL and Redis restarted, the gateway
dropping connections and restarting, the server killed with SIGKILL and stopped with SIGTERM,
while traders place orders by the retry rule and a consumer follows the event log. Nothing
acknowledged is lost, nothing is duplicated at IB, every fill and the position agree with IB,
the consumer sees no gap, and no call is answered INTERNAL or UNKNOWN."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fault_run import format_report, run_faults

pytestmark = pytest.mark.slow


async def test_faults_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    report = await run_faults(count=2, seed=14, logs=tmp_path / "logs")
    summary = format_report(report)
    result = report.comparison
    assert result.internal_or_unknown == 0, summary
    assert result.acknowledged == result.keys > 0, summary
    assert result.fills_at_ib > 0, summary  # the run traded: the ledgers have something to agree on
    assert result.acknowledged_and_lost == 0, summary
    assert result.refused_but_placed == 0, summary
    assert result.duplicated == 0, summary
    assert result.unknown_to_server == 0, summary
    assert (result.fills_missing, result.fills_duplicated, result.fills_extra) == (0, 0, 0), summary
    assert result.position_mismatch == 0, summary
    assert (result.sequence_gaps, result.sequence_duplicates) == (0, 0), summary
    assert result.problems == [], summary
