"""JWT bearer tokens: verifying them at the edge, and minting them for local use."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from ibkr_grpc.domain.errors import AuthenticationError
from ibkr_grpc.domain.identity import Caller, Role

_DURATION = re.compile(r"(?P<count>[0-9]+)(?P<unit>[smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """'8h', '30m', '7d', '90s'."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        message = f"not a duration like 8h, 30m or 7d: {text!r}"
        raise ValueError(message)
    return timedelta(**{_UNITS[match["unit"]]: int(match["count"])})


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    """Signs tokens: `key` is the HS256 secret, or an RS256 private key in PEM."""

    key: str
    algorithm: str
    issuer: str
    audience: str


def mint_token(
    issuer: TokenIssuer,
    *,
    subject: str,
    role: Role,
    accounts: frozenset[str],
    lifetime: timedelta,
    now: datetime,
) -> str:
    claims: dict[str, object] = {
        "sub": subject,
        "role": role.name.lower(),
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if accounts:
        claims["accounts"] = sorted(accounts)
    return jwt.encode(claims, issuer.key, algorithm=issuer.algorithm)


class TokenVerifier:
    """Checks signature, expiry, issuer and audience, and reads the caller from the claims."""

    def __init__(self, *, key: str, algorithm: str, issuer: str, audience: str) -> None:
        self._key = key
        self._algorithm = algorithm
        self._issuer = issuer
        self._audience = audience

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=timedelta(seconds=30),
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise AuthenticationError("the token has expired", cause="expired") from error
        except jwt.InvalidSignatureError as error:
            raise AuthenticationError(
                "the token's signature is not valid", cause="signature"
            ) from error
        except jwt.InvalidAudienceError as error:
            raise AuthenticationError(
                "the token is for another audience", cause="audience"
            ) from error
        except jwt.InvalidIssuerError as error:
            raise AuthenticationError("the token is from another issuer", cause="issuer") from error
        except jwt.MissingRequiredClaimError as error:
            raise AuthenticationError(
                f"the token lacks a claim: {error.claim}", cause="claims"
            ) from error
        except jwt.InvalidTokenError as error:
            raise AuthenticationError("the token is malformed", cause="malformed") from error
        return _caller(claims)


def _caller(claims: dict[str, object]) -> Caller:
    subject = claims.get("sub")
    role = claims.get("role")
    accounts = claims.get("accounts", [])
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("the token has no subject", cause="claims")
    try:
        parsed_role = Role.named(str(role))
    except KeyError as error:
        raise AuthenticationError(
            f"the token's role {role!r} is unknown", cause="claims"
        ) from error
    if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
        raise AuthenticationError("the token's accounts claim is not a list of ids", cause="claims")
    return Caller(subject, parsed_role, frozenset(accounts))
