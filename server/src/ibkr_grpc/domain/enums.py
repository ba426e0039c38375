"""Trading enumerations of the domain; their string values are what the database stores."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"
    TRAILING_STOP = "TRAILING_STOP"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    PENDING_SUBMIT = "PENDING_SUBMIT"
    SUBMITTED = "SUBMITTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"
    # IB never received it (proved locally or by reconciliation); a retry sends it anew.
    NOT_SENT = "NOT_SENT"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES

    @property
    def is_working(self) -> bool:
        """Live at the broker, or possibly so: cancellable, and counted as an open order."""
        return not self.is_final


_FINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.INACTIVE,
        OrderStatus.EXPIRED,
        OrderStatus.NOT_SENT,
    }
)


class OrderOrigin(StrEnum):
    THIS_SERVER = "THIS_SERVER"
    OTHER_API_CLIENT = "OTHER_API_CLIENT"
    # TWS, the mobile app, Client Portal: IB reports them with order id 0 or below.
    MANUAL = "MANUAL"


class BracketRole(StrEnum):
    NONE = "NONE"
    PARENT = "PARENT"
    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_LOSS = "STOP_LOSS"


class SecurityType(StrEnum):
    STOCK = "STOCK"
    FOREX = "FOREX"
    FUTURE = "FUTURE"
    OPTION = "OPTION"
    INDEX = "INDEX"
    CFD = "CFD"
    CRYPTO = "CRYPTO"
    FUTURE_OPTION = "FUTURE_OPTION"
    # History and contract details only (IB takes no market data or order for one). Its name
    # is longer than the order tables' 16-character column: orders refuse it before storing.
    CONTINUOUS_FUTURE = "CONTINUOUS_FUTURE"

    @property
    def is_option(self) -> bool:
        return self in {SecurityType.OPTION, SecurityType.FUTURE_OPTION}

    @property
    def is_future(self) -> bool:
        return self in {SecurityType.FUTURE, SecurityType.CONTINUOUS_FUTURE}


class OptionRight(StrEnum):
    NONE = "NONE"
    CALL = "CALL"
    PUT = "PUT"


class OrderEventType(StrEnum):
    CREATED = "CREATED"
    SENT = "SENT"
    STATUS_CHANGED = "STATUS_CHANGED"
    FILL = "FILL"
    COMMISSION_REPORTED = "COMMISSION_REPORTED"
    MODIFY_REQUESTED = "MODIFY_REQUESTED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    RECONCILED = "RECONCILED"
    BROKER_MESSAGE = "BROKER_MESSAGE"
    MODIFIED = "MODIFIED"
    COMMAND_REFUSED = "COMMAND_REFUSED"
    DISCOVERED = "DISCOVERED"


class ConnectionState(StrEnum):
    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    SYNCING = "SYNCING"
    READY = "READY"


class TradingMode(StrEnum):
    PAPER = "PAPER"
    LIVE = "LIVE"
