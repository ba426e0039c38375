"""The demo's state folder (var/demo by default): its database, its signing secret and Envoy's
files, shared by `ibkr-grpc demo`, `demo --print-tokens` and `ibkr-grpc token`."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.domain.identity import Role

DEFAULT_FOLDER = Path("var/demo")
# Who each demo token is for, and what it may do (the README's role table says the same).
DEMO_ROLES: tuple[tuple[Role, str], ...] = (
    (Role.ADMIN, "TOKEN"),
    (Role.TRADER, "TRADER_TOKEN"),
    (Role.VIEWER, "VIEWER_TOKEN"),
)
ROLES_LINE = (
    "TOKEN is an admin's (everything, risk limits\nand halts included), TRADER_TOKEN a "
    "trader's (place orders, modify and cancel its own),\nVIEWER_TOKEN a viewer's (read and "
    "stream only)."
)
TOKEN_LIFETIME = timedelta(days=1)


class DemoAlreadyRunningError(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoState:
    folder: Path = DEFAULT_FOLDER

    @property
    def database(self) -> Path:
        return self.folder / "demo.sqlite3"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database}"

    @property
    def secret_file(self) -> Path:
        return self.folder / "jwt-secret"

    @property
    def envoy_config(self) -> Path:
        return self.folder / "envoy.yaml"

    @property
    def envoy_admin_socket(self) -> Path:
        return self.folder / "envoy-admin.sock"

    def create(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while a demo runs on this folder: a second demo would delete its database."""
        self.create()
        with (self.folder / "lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                message = (
                    f"another demo is running on {self.folder}: stop it, or give this one "
                    "--state-dir of its own"
                )
                raise DemoAlreadyRunningError(message) from None
            yield

    def forget_data(self) -> None:
        """A fresh start: the previous run's orders, fills, risk limits and halts are gone."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.database.with_name(self.database.name + suffix).unlink(missing_ok=True)

    def secret(self, *, keep: bool) -> str:
        """The signing secret of this run: the stored one when `keep` and there is one, else a
        new one. Written with mode 0600 (only this user reads it) and never logged."""
        if keep and (existing := self.read_secret()) is not None:
            return existing
        secret = secrets.token_urlsafe(48)
        self.create()
        descriptor = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)  # an older file keeps its mode otherwise
            file.write(secret + "\n")
        return secret

    def read_secret(self) -> str | None:
        try:
            text = self.secret_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def forget_secret(self) -> None:
        self.secret_file.unlink(missing_ok=True)


def demo_tokens(
    secret: str, *, issuer: str, audience: str, now: datetime | None = None
) -> list[tuple[str, str]]:
    """(variable, token) for every role, unscoped, signed with the demo's secret."""
    signer = TokenIssuer(secret, "HS256", issuer, audience)
    issued = now or datetime.now(UTC)
    return [
        (
            variable,
            mint_token(
                signer,
                subject=f"demo-{role.name.lower()}",
                role=role,
                accounts=frozenset(),
                lifetime=TOKEN_LIFETIME,
                now=issued,
            ),
        )
        for role, variable in DEMO_ROLES
    ]


def export_lines(tokens: list[tuple[str, str]], indent: str = "") -> str:
    """Shell lines that set the tokens (no comments: zsh would take them as arguments)."""
    return "\n".join(f"{indent}export {variable}={token}" for variable, token in tokens)
