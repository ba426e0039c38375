"""Tokens minted and verified with real keys: HS256 secrets and RS256 key pairs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ibkr_grpc.api.tokens import TokenIssuer, TokenVerifier, mint_token, parse_duration
from ibkr_grpc.domain.errors import AuthenticationError
from ibkr_grpc.domain.identity import Caller, Role

COMMAND = Path(sys.executable).parent / "ibkr-grpc"


def key_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def test_rs256_tokens_verify_with_the_public_key_only() -> None:
    private, public = key_pair()
    issuer = TokenIssuer(private, "RS256", "ibkr-grpc", "ibkr-grpc")
    token = mint_token(
        issuer,
        subject="ops",
        role=Role.ADMIN,
        accounts=frozenset({"DU1"}),
        lifetime=timedelta(minutes=5),
        now=datetime.now(UTC),
    )
    verifier = TokenVerifier(
        key=public, algorithm="RS256", issuer="ibkr-grpc", audience="ibkr-grpc"
    )
    assert verifier.verify(token) == Caller("ops", Role.ADMIN, frozenset({"DU1"}))
    _, other_public = key_pair()
    other = TokenVerifier(
        key=other_public, algorithm="RS256", issuer="ibkr-grpc", audience="ibkr-grpc"
    )
    with pytest.raises(AuthenticationError) as raised:
        other.verify(token)
    assert raised.value.cause == "signature"


def test_an_hs256_token_cannot_pass_as_rs256() -> None:
    # The classic forgery: sign with HMAC, using the server's public key as the secret.
    _, public = key_pair()
    now = int(datetime.now(UTC).timestamp())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "sub": "mallory",
        "role": "admin",
        "iss": "ibkr-grpc",
        "aud": "ibkr-grpc",
        "iat": now,
        "exp": now + 60,
    }
    signing_input = ".".join(_segment(json.dumps(part).encode()) for part in (header, claims))
    signature = hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{_segment(signature)}"
    verifier = TokenVerifier(
        key=public, algorithm="RS256", issuer="ibkr-grpc", audience="ibkr-grpc"
    )
    with pytest.raises(AuthenticationError):
        verifier.verify(forged)


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_an_unknown_role_is_refused() -> None:
    import jwt  # noqa: PLC0415

    secret = "k" * 40
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "x", "role": "root", "iss": "i", "aud": "a", "iat": now, "exp": now + 60}
    token = jwt.encode(claims, secret, algorithm="HS256")
    with pytest.raises(AuthenticationError) as raised:
        TokenVerifier(key=secret, algorithm="HS256", issuer="i", audience="a").verify(token)
    assert raised.value.cause == "claims"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("8h", 28800), ("7d", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_the_token_command_mints_what_the_server_accepts(tmp_path: Path) -> None:
    secret = "c" * 40
    environment = os.environ | {"JWT_SECRET": secret, "JWT_ALGORITHM": "HS256"}
    result = subprocess.run(
        [
            COMMAND,
            "token",
            "--role",
            "viewer",
            "--subject",
            "carol",
            "--account",
            "DU7",
            "--ttl",
            "2h",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        timeout=30,
    )
    verifier = TokenVerifier(
        key=secret, algorithm="HS256", issuer="ibkr-grpc", audience="ibkr-grpc"
    )
    assert verifier.verify(result.stdout.strip()) == Caller(
        "carol", Role.VIEWER, frozenset({"DU7"})
    )
    private, public = key_pair()
    (tmp_path / "private.pem").write_text(private, encoding="utf-8")
    (tmp_path / "public.pem").write_text(public, encoding="utf-8")
    rs256 = os.environ | {
        "JWT_ALGORITHM": "RS256",
        "JWT_PUBLIC_KEY_FILE": str(tmp_path / "public.pem"),
    }
    result = subprocess.run(
        [
            COMMAND,
            "token",
            "--role",
            "admin",
            "--subject",
            "ops",
            "--private-key",
            str(tmp_path / "private.pem"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=rs256,
        timeout=30,
    )
    verifier = TokenVerifier(
        key=public, algorithm="RS256", issuer="ibkr-grpc", audience="ibkr-grpc"
    )
    assert verifier.verify(result.stdout.strip()).role is Role.ADMIN
