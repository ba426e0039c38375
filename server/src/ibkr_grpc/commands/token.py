"""`ibkr-grpc token`: mint a bearer token for local use, signed with the server's key, or with
the running demo's secret when JWT_SECRET is not set."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from ibkr_grpc.api.tokens import TokenIssuer, mint_token, parse_duration
from ibkr_grpc.commands.demo_state import DEFAULT_FOLDER, DemoState
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.settings import SettingsError, load_settings


def run(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc token",
        description="Print a JWT for the server configured by the environment (JWT_SECRET, "
        "JWT_ISSUER, JWT_AUDIENCE; for RS256 give the private key with --private-key). Without "
        "JWT_SECRET it signs with the secret of the demo running from this folder.",
    )
    parser.add_argument("--role", required=True, choices=[role.name.lower() for role in Role])
    parser.add_argument("--subject", required=True, help="who the token is for, e.g. a user name")
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        help="scope the token to this account (repeatable)",
    )
    parser.add_argument("--ttl", default="8h", help="lifetime: 90s, 30m, 8h, 7d (default 8h)")
    parser.add_argument("--private-key", type=Path, help="PEM private key, for RS256")
    parser.add_argument(
        "--demo-state",
        type=Path,
        default=DEFAULT_FOLDER,
        help="the demo's state folder, read when JWT_SECRET is not set (default var/demo)",
    )
    options = parser.parse_args(list(arguments))
    overrides: dict[str, object] = {}
    demo = DemoState(options.demo_state)
    demo_secret = None if _environment_has("JWT_SECRET") else demo.read_secret()
    if demo_secret is not None:
        overrides["jwt_secret"] = SecretStr(demo_secret)
        note = f"ibkr-grpc token: signed with the demo's secret ({demo.secret_file})"
        print(note, file=sys.stderr)  # noqa: T201
    try:
        settings = load_settings(**overrides)
    except SettingsError as error:
        unset = not _environment_has("JWT_SECRET")
        problems = [
            "JWT_SECRET: not set; export the server's secret, or start `ibkr-grpc demo` from "
            "this folder to sign with the demo's"
            if unset and problem.startswith("authentication needs JWT_SECRET")
            else problem
            for problem in error.problems
        ]
        parser.exit(2, "".join(f"ibkr-grpc token: {problem}\n" for problem in problems))
    try:
        lifetime = parse_duration(options.ttl)
    except ValueError as error:
        parser.exit(2, f"ibkr-grpc token: {error}\n")
    if settings.jwt_algorithm == "RS256":
        if options.private_key is None:
            parser.exit(2, "ibkr-grpc token: RS256 needs --private-key\n")
        key = options.private_key.read_text(encoding="utf-8")
    elif settings.jwt_secret is None:
        parser.exit(2, "ibkr-grpc token: set JWT_SECRET to the server's secret\n")
    else:
        key = settings.jwt_secret.get_secret_value()
    issuer = TokenIssuer(key, settings.jwt_algorithm, settings.jwt_issuer, settings.jwt_audience)
    token = mint_token(
        issuer,
        subject=options.subject,
        role=Role.named(options.role),
        accounts=frozenset(options.account),
        lifetime=lifetime,
        now=datetime.now(UTC),
    )
    print(token)  # noqa: T201
    return 0


def _environment_has(variable: str) -> bool:
    # Settings read the environment case-insensitively; so does this.
    return any(name.upper() == variable for name in os.environ)
