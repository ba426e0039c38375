"""The `ibkr-grpc` console command, as installed into .venv by `make setup`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

COMMAND = Path(sys.executable).parent / "ibkr-grpc"


def test_version() -> None:
    result = subprocess.run(
        [COMMAND, "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "0.1.0"


def test_no_subcommand_is_a_usage_error() -> None:
    result = subprocess.run([COMMAND], capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 2
    assert "COMMAND" in result.stderr


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = subprocess.run(
        [COMMAND, "trade-everything"], capture_output=True, text=True, check=False, timeout=30
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
