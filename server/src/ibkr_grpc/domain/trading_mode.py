"""Whether the accounts IB Gateway reports match TRADING_MODE: the rule that makes
`TRADING_MODE=paper` mean paper, and `live` mean a live login that was confirmed on purpose."""

from __future__ import annotations

from collections.abc import Sequence

from ibkr_grpc.domain.enums import TradingMode

# IB gives paper (simulated) accounts ids that start with "D": DU… for an individual or a client
# account, DF… for an advisor's master account. Live ids start with U, F, I and others, never D.
PAPER_ACCOUNT_PREFIX = "D"


def is_paper_account(account: str) -> bool:
    return account.strip().upper().startswith(PAPER_ACCOUNT_PREFIX)


def trading_mode_mismatch(mode: TradingMode, accounts: Sequence[str]) -> str:
    """Why orders must be refused, in words naming the accounts and the setting; "" when the
    accounts match the mode. No accounts (not connected yet) is no evidence either way."""
    if mode is TradingMode.PAPER:
        live = [account for account in accounts if not is_paper_account(account)]
        if live:
            return (
                f"TRADING_MODE=paper but IB Gateway is logged in to live account(s) "
                f"{', '.join(live)} (paper account ids start with {PAPER_ACCOUNT_PREFIX}): "
                "log the gateway in to the paper account, or set TRADING_MODE=live with "
                "LIVE_TRADING_CONFIRMATION to trade real money"
            )
        return ""
    paper = [account for account in accounts if is_paper_account(account)]
    if paper:
        return (
            f"TRADING_MODE=live but IB Gateway is logged in to paper account(s) "
            f"{', '.join(paper)}: log the gateway in to the live account, or set "
            "TRADING_MODE=paper"
        )
    return ""
