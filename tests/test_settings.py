"""The settings object: safe defaults, masked secrets, live trading only on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ibkr_grpc.cli import main
from ibkr_grpc.domain.enums import TradingMode
from ibkr_grpc.settings import (
    LIVE_TRADING_CONFIRMATION,
    Settings,
    SettingsError,
    load_settings,
)

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


# Every command that reads the settings reports their errors the same way.
SETTINGS_COMMANDS = (
    ["serve"],
    ["token", "--role", "admin", "--subject", "someone"],
    ["db", "current"],
)


def _problems_printed(command: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(command)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.parametrize("command", SETTINGS_COMMANDS, ids=lambda command: command[0])
def test_a_short_jwt_secret_is_reported_without_its_value(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JWT_SECRET", "short-but-secret")
    printed = _problems_printed(command, capsys)
    assert "short-but-secret" not in printed
    assert "JWT_SECRET (at least 32 characters)" in printed


@pytest.mark.parametrize("command", SETTINGS_COMMANDS, ids=lambda command: command[0])
def test_another_bad_setting_shows_no_secret_and_names_its_variable(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JWT_SECRET", "valid-secret-" + "x" * 30 + "-TAILSECRET")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://trader:hunter2@db/ibkr")
    monkeypatch.setenv("REDIS_URL", "redis://:redis-password@redis:6379/0")
    monkeypatch.setenv("LIVE_TRADING_CONFIRMATION", "confirmation-secret")
    monkeypatch.setenv("IB_PORT", "0")
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    printed = _problems_printed(command, capsys)
    for secret in ("TAILSECRET", "hunter2", "redis-password", "confirmation-secret", "x" * 8):
        assert secret not in printed
    # One line per problem, naming the variable (a command may name itself first).
    lines = [
        line.removeprefix(f"ibkr-grpc {command[0]}: ") for line in printed.strip().splitlines()
    ]
    assert any(line.startswith("IB_PORT: ") for line in lines), printed
    assert any(line.startswith("LOG_LEVEL: ") for line in lines), printed
    assert "input_value" not in printed
    assert "chatty" not in printed, "no value at all is printed, secret or not"


def test_settings_errors_are_one_line_per_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "short-but-secret")
    monkeypatch.setenv("MARKET_DATA_LINE_LIMIT", "0")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.problems == [
        "MARKET_DATA_LINE_LIMIT: Input should be greater than or equal to 1"
    ]  # field errors first: pydantic runs the model's checks only on valid fields
    assert raised.value.__suppress_context__, "a traceback must not print pydantic's text"
    monkeypatch.delenv("MARKET_DATA_LINE_LIMIT")
    with pytest.raises(SettingsError, match=r"^authentication needs JWT_SECRET") as raised:
        load_settings()
    assert "short-but-secret" not in str(raised.value)
