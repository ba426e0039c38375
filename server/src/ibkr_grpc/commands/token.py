"""`ibkr-grpc token`: mint a bearer token for local use, signed with the server's key."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ibkr_grpc.api.tokens import TokenIssuer, mint_token, parse_duration
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.settings import SettingsError, load_settings


def run(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc token",
        description="Print a JWT for the server configured by the environment (JWT_SECRET, "
        "JWT_ISSUER, JWT_AUDIENCE; for RS256 give the private key with --private-key).",
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
    options = parser.parse_args(list(arguments))
    try:
        settings = load_settings()
    except SettingsError as error:
        parser.exit(2, f"ibkr-grpc token: invalid settings:\n{error}\n")
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
