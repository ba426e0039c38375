"""README.md stays true: every setting the server reads is documented there."""

from __future__ import annotations

from pathlib import Path

from ibkr_grpc.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [
        name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in README
    ]
    assert missing == []


def test_the_two_commands_are_there() -> None:
    assert "make demo" in README
    assert "make test" in README
