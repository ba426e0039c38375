"""Who is calling: a subject with a role, optionally scoped to some accounts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """Each role can do everything the roles below it can."""

    VIEWER = 1
    TRADER = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: str) -> Role:
        return cls[name.upper()]


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    role: Role
    # Empty: every account.
    accounts: frozenset[str] = frozenset()

    def may_use_account(self, account: str) -> bool:
        return not self.accounts or account in self.accounts

    def may_change_order(self, *, account: str, placed_by: str) -> bool:
        """Admins may change any order; traders only their own, in their accounts."""
        if not self.may_use_account(account):
            return False
        return self.role >= Role.ADMIN or (self.role >= Role.TRADER and placed_by == self.subject)


# For calls made inside the server (circuit breakers, reconciliation) and with auth disabled.
SYSTEM = Caller("system", Role.ADMIN)
