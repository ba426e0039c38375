"""The settings object: safe defaults, masked secrets, live trading only on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ibkr_grpc.domain.enums import TradingMode
from ibkr_grpc.settings import LIVE_TRADING_CONFIRMATION, Settings

SECRET = "s" * 40


@pytest.fixture(autouse=True)
def a_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.delenv("AUTH_DISABLED", raising=False)


def test_defaults_are_paper_embedded_and_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRADING_MODE", "DATABASE_URL", "GRPC_LISTEN", "IB_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.trading_mode is TradingMode.PAPER
    assert settings.is_embedded_database
    assert settings.grpc_listen.startswith("127.0.0.1:")
    assert settings.ib_port == 4002


def test_secrets_never_show_in_repr() -> None:
    settings = Settings(database_url=SecretStr("postgresql+asyncpg://trader:hunter2@db/ibkr"))
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_live_trading_needs_the_confirmation_phrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADING_MODE", "live")
    with pytest.raises(ValidationError, match="LIVE_TRADING_CONFIRMATION"):
        Settings()
    monkeypatch.setenv("LIVE_TRADING_CONFIRMATION", LIVE_TRADING_CONFIRMATION)
    assert Settings().trading_mode is TradingMode.LIVE


def test_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IB_CLIENT_ID", "42")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.ib_client_id == 42
    assert settings.log_level == "DEBUG"
    with pytest.raises(ValidationError):
        Settings(ib_port=0)


def test_authentication_cannot_be_left_unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET")
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings()
    monkeypatch.setenv("JWT_SECRET", "too-short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("AUTH_DISABLED", "true")
    assert Settings().auth_disabled


def test_rs256_needs_a_public_key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JWT_ALGORITHM", "RS256")
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY_FILE"):
        Settings()
    key = tmp_path / "public.pem"
    key.write_text("-----BEGIN PUBLIC KEY-----\n", encoding="utf-8")
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", str(key))
    assert Settings().jwt_public_key_file == key


def test_the_jwt_secret_is_masked() -> None:
    assert SECRET not in repr(Settings())
