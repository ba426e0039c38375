"""The service's configuration: one frozen object, read from the environment once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ibkr_grpc.domain.enums import TradingMode

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///var/ibkr-grpc.sqlite3"
LIVE_TRADING_CONFIRMATION = "I understand this trades real money"


class Settings(BaseSettings):
    """Every setting, with its environment variable (the field name in upper case).

    Secrets are SecretStr: masked in repr and logs. Paper trading is the default; live trading
    needs TRADING_MODE=live and LIVE_TRADING_CONFIRMATION set to the exact confirmation phrase.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    ib_host: str = Field(default="127.0.0.1", description="IB Gateway host")
    ib_port: int = Field(default=4002, ge=1, le=65535, description="IB Gateway API port")
    ib_client_id: int = Field(default=1, ge=0, description="API client id of the service")
    ib_session_role: Literal["owner", "follower"] = Field(default="owner")
    ib_request_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    ib_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    ib_reconnect_initial_delay_seconds: float = Field(default=0.5, gt=0)
    ib_reconnect_max_delay_seconds: float = Field(default=30.0, gt=0)
    # A quiet session asks the gateway the time this often, and reconnects if it gets no answer.
    ib_watchdog_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    trading_mode: TradingMode = Field(default=TradingMode.PAPER)
    live_trading_confirmation: SecretStr = Field(default=SecretStr(""))
    database_url: SecretStr = Field(default=SecretStr(EMBEDDED_DATABASE_URL))
    redis_url: SecretStr | None = Field(default=None)
    redis_key_prefix: str = Field(default="ibkr-grpc:", min_length=1, max_length=64)
    grpc_listen: str = Field(default="127.0.0.1:50051")
    # A unary request's message must arrive whole within this long after the call begins.
    grpc_request_receive_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    metrics_listen: str = Field(default="127.0.0.1:9464", pattern=r"^.+:[0-9]{1,5}$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    order_acknowledgement_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # New orders and modifications at most on their way to IB at once (services.command_admission).
    order_command_queue_limit: int = Field(default=64, ge=1, le=10_000)
    auth_disabled: bool = Field(default=False)
    jwt_secret: SecretStr | None = Field(default=None)
    jwt_algorithm: Literal["HS256", "RS256"] = Field(default="HS256")
    jwt_public_key_file: Path | None = Field(default=None)
    jwt_issuer: str = Field(default="ibkr-grpc")
    jwt_audience: str = Field(default="ibkr-grpc")
    reflection_enabled: bool = Field(default=True)
    risk_limits_file: Path | None = Field(default=None)
    market_data_line_limit: int = Field(default=100, ge=1, le=10_000)
    quote_linger_seconds: float = Field(default=5.0, ge=0, le=600)
    # Terminal orders whose last change is older than this many days are archived, with their
    # fills and events, once an hour (store/order_archive.py); unset, only `ibkr-grpc archive`.
    order_archive_after_days: int | None = Field(default=None, ge=7, le=36_500)

    @field_validator("trading_mode", mode="before")
    @classmethod
    def _upper_trading_mode(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _live_trading_needs_confirmation(self) -> Self:
        confirmed = self.live_trading_confirmation.get_secret_value() == LIVE_TRADING_CONFIRMATION
        if self.trading_mode is TradingMode.LIVE and not confirmed:
            message = (
                "TRADING_MODE=live also needs LIVE_TRADING_CONFIRMATION="
                f"'{LIVE_TRADING_CONFIRMATION}'"
            )
            raise ValueError(message)
        return self

    @model_validator(mode="after")
    def _followers_need_redis(self) -> Self:
        if self.ib_session_role == "follower" and self.redis_url is None:
            message = (
                "IB_SESSION_ROLE=follower needs REDIS_URL: followers read the owner's quotes there"
            )
            raise ValueError(message)
        return self

    @model_validator(mode="after")
    def _authentication_is_configured(self) -> Self:
        if self.auth_disabled:
            return self
        if self.jwt_algorithm == "HS256":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if len(secret) < 32:
                message = (
                    "authentication needs JWT_SECRET (at least 32 characters) for HS256, or "
                    "JWT_ALGORITHM=RS256 with JWT_PUBLIC_KEY_FILE; AUTH_DISABLED=true turns it off"
                )
                raise ValueError(message)
        elif self.jwt_public_key_file is None or not self.jwt_public_key_file.is_file():
            message = "JWT_ALGORITHM=RS256 needs JWT_PUBLIC_KEY_FILE pointing at a PEM public key"
            raise ValueError(message)
        return self

    @property
    def is_embedded_database(self) -> bool:
        return self.database_url.get_secret_value().startswith("sqlite")

    def embedded_database_folder(self) -> Path | None:
        """The folder an embedded SQLite file lives in, to create before connecting."""
        url = self.database_url.get_secret_value()
        prefix = "sqlite+aiosqlite:///"
        if not url.startswith(prefix) or url.endswith(":memory:"):
            return None
        return Path(url.removeprefix(prefix)).parent


class SettingsError(ValueError):
    """Settings that do not validate: one line per problem, each naming its environment
    variable and never a value (pydantic's own text quotes the input, secrets included)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and `overrides`; raises SettingsError."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        # from None: a traceback must not print pydantic's error, whose text has the values.
        raise SettingsError(settings_problems(error)) from None


def settings_problems(error: ValidationError) -> list[str]:
    """One line per problem: the variable (when pydantic knows it) and what is wrong with it."""
    problems = []
    for detail in error.errors(include_input=False, include_url=False, include_context=False):
        message = str(detail["msg"]).removeprefix("Value error, ")
        location = detail["loc"]
        if location and isinstance(location[0], str):
            problems.append(f"{location[0].upper()}: {message}")
        else:
            problems.append(message)
    return problems
