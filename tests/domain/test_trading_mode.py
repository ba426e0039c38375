"""The rule behind TRADING_MODE: which account ids IB gives paper accounts, and what a
mismatch says.

Evidence for the account-id prefixes (IB states no rule in one sentence that we could find;
these are the sources, each for the cases marked with it):
- [tws-fa] IB's own TWS API documentation uses the paper account "DU119915" as the managed
  account of its examples: https://interactivebrokers.github.io/tws-api/financial_advisor_methods_and_orders.html
- [paper-du] "Paper accounts start with "DU" prefix. Example: DU1234567":
  https://github.com/seanjmartin/ibkr-mcp-server/blob/main/docs/guides/paper-trading.md
- [fa-live] Live advisor accounts: "If your account code starts with F, FA, or I, then you
  have an FA account": https://www.quantconnect.com/docs/v2/cloud-platform/live-trading/brokerages/interactive-brokers
- [paper-df] The advisor's paper master account is DF... and its paper clients DU...: IB
  prefixes every paper (demo) id with D. We found this only in published code that checks it
  ("IB paper accounts start with 'D' (DU/DF); live start with 'U'"), not in IB's own words,
  so the rule keys on the D alone and does not depend on the second letter.
"""

from __future__ import annotations

import pytest

from ibkr_grpc.domain.enums import TradingMode
from ibkr_grpc.domain.trading_mode import is_paper_account, trading_mode_mismatch

PAPER = TradingMode.PAPER
LIVE = TradingMode.LIVE


@pytest.mark.parametrize(
    ("account", "paper"),
    [
        ("DU1234567", True),  # [paper-du] an individual paper account
        ("DU119915", True),  # [tws-fa] IB's own example account
        ("DF1234567", True),  # [paper-df] an advisor's paper master account
        ("du1234567", True),  # ids are compared without regard to case
        (" DU1234567 ", True),  # nor to stray spaces from a comma-separated list
        ("U1234567", False),  # [paper-du] a live individual account
        ("F1234567", False),  # [fa-live] a live advisor master account
        ("FA123456", False),  # [fa-live]
        ("I1234567", False),  # [fa-live] a live introducing-broker account
        ("", False),  # nothing to go on is not paper
    ],
)
def test_paper_accounts_are_those_whose_id_starts_with_d(account: str, paper: bool) -> None:
    assert is_paper_account(account) is paper


@pytest.mark.parametrize(
    ("mode", "accounts", "blocked_by"),
    [
        (PAPER, ("DU1234567",), ()),  # [paper-du] paper setting, paper login
        (PAPER, ("DF1234567", "DU1234568", "DU1234569"), ()),  # [paper-df] paper advisor
        (PAPER, ("U1234567",), ("U1234567",)),  # [paper-du] the accident this guards against
        (PAPER, ("F1234567", "U1234568"), ("F1234567", "U1234568")),  # [fa-live] live advisor
        (PAPER, ("DU1234567", "U1234568"), ("U1234568",)),  # one live account is enough
        (LIVE, ("U1234567",), ()),  # [paper-du] confirmed live setting, live login
        (LIVE, ("F1234567", "U1234568"), ()),  # [fa-live]
        (LIVE, ("DU1234567",), ("DU1234567",)),  # live setting on a paper login: wrong too
        (PAPER, (), ()),  # not connected yet: no evidence either way
        (LIVE, (), ()),
    ],
)
def test_a_mismatch_names_the_setting_and_the_accounts(
    mode: TradingMode, accounts: tuple[str, ...], blocked_by: tuple[str, ...]
) -> None:
    reason = trading_mode_mismatch(mode, accounts)
    if not blocked_by:
        assert reason == ""
        return
    assert f"TRADING_MODE={mode.value.lower()}" in reason
    for account in blocked_by:
        assert account in reason
    for account in set(accounts) - set(blocked_by):
        assert account not in reason
