"""Fixtures for the simulator's tests: a simulator on a free port and a watch on ib_async's logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest

from ibkr_simulator import Simulator, SimulatorConfig
from tests.simulator.support import LogCapture
from tests.support.market_hours import TRADING_MORNING


@pytest.fixture(autouse=True)
def ib_async_log() -> Iterator[LogCapture]:
    """Fail any test during which ib_async could not decode what the simulator sent."""
    with _captured("ib_async") as capture:
        yield capture
    assert capture.complaints() == []


@pytest.fixture(autouse=True)
def simulator_log() -> Iterator[LogCapture]:
    """Fail any test during which the simulator itself logged an error (a bug, not a fault)."""
    with _captured("ibkr_simulator") as capture:
        yield capture
    errors = [record.getMessage() for record in capture.records if record.levelno >= logging.ERROR]
    assert errors == []


@contextmanager
def _captured(name: str) -> Iterator[LogCapture]:
    capture = LogCapture()
    logger = logging.getLogger(name)
    previous_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(previous_level)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A simulator with its clock stopped: tests move prices with step() and set_price()."""
    async with Simulator(
        SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)
    ) as running:
        yield running


@pytest.fixture
async def streaming_simulator() -> AsyncIterator[Simulator]:
    """A simulator whose prices move on their own, 50 steps a second."""
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=50, account_update_interval=0.2
    )
    async with Simulator(config) as running:
        yield running
