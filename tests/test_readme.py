"""README.md stays true: every setting the server reads is documented there, and the parts a
newcomer pastes or relies on first match the code."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [
        name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in README
    ]
    assert missing == []


def test_the_two_commands_are_there() -> None:
    assert "make demo" in README
    assert "make test" in README


def section(title: str) -> str:
    """The README's text from the heading `title` to the next heading of its level or above."""
    heading = re.search(rf"^(#+) {re.escape(title)}\n", README, re.MULTILINE)
    assert heading is not None, title
    level = len(heading.group(1))
    rest = README[heading.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start() if end else len(rest)]


def test_the_layout_table_names_every_proto_file() -> None:
    layout = next(line for line in README.splitlines() if line.startswith("| `proto/ibkr/v1/` |"))
    files = sorted(path.name for path in (ROOT / "proto" / "ibkr" / "v1").glob("*.proto"))
    assert [name for name in files if f"`{name}`" not in layout] == []


def test_prerequisites_name_the_test_services_and_their_overrides() -> None:
    text = section("Prerequisites")
    for needed in ("PostgreSQL", "Redis", "TEST_DATABASE_URL", "TEST_REDIS_URL", "sudo", "3.11"):
        assert needed in text, needed


def test_every_call_in_calling_the_api_carries_the_token() -> None:
    text = section("Calling the API")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    commands = [
        line
        for block in blocks
        for line in block.splitlines()
        if line.startswith(("curl", "node_modules/.bin/buf", "grpcurl", "call "))
    ]
    assert len(commands) > 5
    assert [c for c in commands if not c.startswith("call ") and '"$AUTH"' not in c] == []
    assert "export TOKEN=" in blocks[0]
    # zsh takes a comment on a pasted line for arguments (interactivecomments is off).
    assert [line for block in blocks for line in block.splitlines() if "#" in line] == []


def test_the_bars_route_documents_its_parameters() -> None:
    row = next(line for line in README.splitlines() if "`GetHistoricalBars` |" in line)
    for parameter in ("bar_size", "span.count", "span.unit", "start_time", "end_time", "source"):
        assert parameter in row, parameter


def test_the_decimal_examples_are_what_the_server_writes() -> None:
    examples = re.findall(
        r'`"([0-9.]+)"`\s+comes\s+back\s+`"([0-9.]+)"`|`"([0-9.]+)"`\s+as\s+`"([0-9.]+)"`', README
    )
    pairs = [(a or c, b or d) for a, b, c, d in examples]
    assert len(pairs) >= 2
    assert [(sent, write_decimal(Decimal(sent))) for sent, _ in pairs] == pairs
