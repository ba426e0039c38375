"""Who may call what: every RPC's required role, and account scopes, checked on every call
(streams included; health excluded) before the call runs."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import grpc.aio
import structlog

from ibkr_grpc.api.audit import CALLER
from ibkr_grpc.api.call_context import metadata_value
from ibkr_grpc.api.tokens import TokenVerifier
from ibkr_grpc.domain.errors import AuthenticationError, PermissionDeniedError
from ibkr_grpc.domain.identity import Caller, Role

_log = structlog.get_logger("ibkr_grpc.access")

# The authenticated caller of the current call, for servicers to hand to the services.
CURRENT_CALLER: ContextVar[Caller] = ContextVar("current_caller")

_V = "/ibkr.v1."
REQUIRED_ROLES: dict[str, Role] = {
    f"{_V}OrderService/PlaceOrder": Role.TRADER,
    f"{_V}OrderService/GetOrder": Role.VIEWER,
    f"{_V}OrderService/ListOrders": Role.VIEWER,
    f"{_V}OrderService/ModifyOrder": Role.TRADER,
    f"{_V}OrderService/CancelOrder": Role.TRADER,
    f"{_V}OrderService/CancelAllOrders": Role.ADMIN,
    f"{_V}OrderService/ListFills": Role.VIEWER,
    f"{_V}OrderService/StreamOrderEvents": Role.VIEWER,
    f"{_V}PortfolioService/ListAccounts": Role.VIEWER,
    f"{_V}PortfolioService/GetAccountSummary": Role.VIEWER,
    f"{_V}PortfolioService/ListPositions": Role.VIEWER,
    f"{_V}PortfolioService/GetPnL": Role.VIEWER,
    f"{_V}PortfolioService/StreamPortfolio": Role.VIEWER,
    f"{_V}MarketDataService/SearchContracts": Role.VIEWER,
    f"{_V}MarketDataService/GetContractDetails": Role.VIEWER,
    f"{_V}MarketDataService/GetQuote": Role.VIEWER,
    f"{_V}MarketDataService/StreamQuotes": Role.VIEWER,
    f"{_V}MarketDataService/GetHistoricalBars": Role.VIEWER,
    f"{_V}MarketDataService/StreamMarketDepth": Role.VIEWER,
    f"{_V}MarketDataService/StreamTicks": Role.VIEWER,
    f"{_V}MarketDataService/StreamBars": Role.VIEWER,
    f"{_V}OptionService/GetOptionChain": Role.VIEWER,
    f"{_V}OptionService/StreamOptionChain": Role.VIEWER,
    f"{_V}GatewayService/GetGatewayStatus": Role.VIEWER,
    f"{_V}GatewayService/StreamGatewayStatus": Role.VIEWER,
    f"{_V}RiskService/GetRiskLimits": Role.VIEWER,
    f"{_V}RiskService/UpdateRiskLimits": Role.ADMIN,
    f"{_V}RiskService/HaltTrading": Role.ADMIN,
    f"{_V}RiskService/ResumeTrading": Role.ADMIN,
    f"{_V}RiskService/GetTradingState": Role.VIEWER,
    f"{_V}RiskService/StreamTradingState": Role.VIEWER,
}
ANONYMOUS_ADMIN = Caller("anonymous", Role.ADMIN)


class AccessControl:
    """The call interceptor's gatekeeper. With no verifier, authentication is off: every call
    runs as an anonymous admin (the server warns loudly at start-up)."""

    def __init__(
        self,
        verifier: TokenVerifier | None,
        *,
        on_failure: Callable[[str], None] = lambda _cause: None,
    ) -> None:
        self._verifier = verifier
        self._on_failure = on_failure

    async def __call__(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        caller = self.authenticate(method, context)
        required = REQUIRED_ROLES.get(method, Role.ADMIN)
        if caller.role < required:
            raise PermissionDeniedError(
                f"{method.rsplit('/', 1)[-1]} needs the {required.name.lower()} role; "
                f"{caller.subject} is a {caller.role.name.lower()}",
                metadata={"required_role": required.name.lower()},
            )
        _scope_account(caller, request)
        CURRENT_CALLER.set(caller)
        CALLER.set(caller.subject)

    def authenticate(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
        if self._verifier is None:
            return ANONYMOUS_ADMIN
        header = metadata_value(context.invocation_metadata(), "authorization")
        try:
            return self._verifier.verify(_bearer_token(header))
        except AuthenticationError as error:
            self._on_failure(error.cause)
            # Never the token itself: only why it failed and where the call came from.
            _log.warning(
                "authentication failed", cause=error.cause, method=method, peer=context.peer()
            )
            raise


def _bearer_token(header: str) -> str:
    if not header:
        message = "no bearer token: send 'authorization: Bearer TOKEN'"
        raise AuthenticationError(message, cause="missing")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        message = "the authorization header is not 'Bearer TOKEN'"
        raise AuthenticationError(message, cause="malformed")
    return token.strip()


def _scope_account(caller: Caller, request: Any) -> None:
    """A scoped token reaches only its accounts: a request naming another is refused, and a
    request naming none is narrowed to the token's one account (or refused if it has more)."""
    if not caller.accounts or "account" not in getattr(request.DESCRIPTOR, "fields_by_name", {}):
        return
    account = request.account
    if account and not caller.may_use_account(account):
        raise PermissionDeniedError(
            f"{caller.subject} may not use account {account}", metadata={"account": account}
        )
    if not account:
        if len(caller.accounts) > 1:
            raise PermissionDeniedError(
                "give the account: this token is scoped to several accounts",
                metadata={"accounts": ",".join(sorted(caller.accounts))},
            )
        request.account = next(iter(caller.accounts))


def is_loopback(peer: str) -> bool:
    return peer.startswith(("ipv4:127.", "ipv6:[::1]", "unix:"))


def current_caller() -> Caller:
    """The current call's caller (an anonymous admin when authentication is off)."""
    return CURRENT_CALLER.get(ANONYMOUS_ADMIN)
