"""The `ibkr-grpc` console command, as installed into .venv by `make setup`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ibkr_grpc.api.tokens import TokenVerifier
from ibkr_grpc.commands.demo_state import DemoState
from ibkr_grpc.domain.identity import Role

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


def without_jwt_secret() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.upper() != "JWT_SECRET"}


def test_token_without_a_secret_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [COMMAND, "token", "--role", "viewer", "--subject", "bob"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        cwd=tmp_path,
        env=without_jwt_secret(),
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (
            "ibkr-grpc token: JWT_SECRET: not set; export the server's secret, or start "
            "`ibkr-grpc demo` from this folder to sign with the demo's"
        )
    ]


def test_token_and_print_tokens_sign_with_the_demos_secret(tmp_path: Path) -> None:
    state = DemoState(tmp_path / "state")
    missing = subprocess.run(
        [COMMAND, "demo", "--print-tokens", "--state-dir", str(state.folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert missing.returncode == 2
    assert "start `ibkr-grpc demo` first" in missing.stderr
    secret = state.secret(keep=False)
    assert state.secret_file.stat().st_mode & 0o777 == 0o600
    verifier = TokenVerifier(
        key=secret, algorithm="HS256", issuer="ibkr-grpc", audience="ibkr-grpc"
    )
    printed = subprocess.run(
        [COMMAND, "demo", "--print-tokens", "--state-dir", str(state.folder)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env=without_jwt_secret(),
    )
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in printed.stdout.splitlines()
    )
    roles = {name: verifier.verify(token).role for name, token in exports.items()}
    assert roles == {"TOKEN": Role.ADMIN, "TRADER_TOKEN": Role.TRADER, "VIEWER_TOKEN": Role.VIEWER}
    minted = subprocess.run(
        [COMMAND, "token", "--role", "trader", "--subject", "bob", "--demo-state", state.folder],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env=without_jwt_secret(),
    )
    caller = verifier.verify(minted.stdout.strip())
    assert (caller.subject, caller.role) == ("bob", Role.TRADER)
    assert "demo's secret" in minted.stderr
    assert secret not in minted.stdout + minted.stderr + printed.stdout
