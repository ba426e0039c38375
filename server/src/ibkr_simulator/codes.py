"""IB error and notice codes the simulator sends, grouped in named sets as the service sorts them."""

from __future__ import annotations

from typing import Final

# The notice before error 100. IB's message-code table does not list it; published client code
# and logs show code 0 with "Warning: Approaching max rate of 50 messages per second (48)".
MESSAGE_RATE_APPROACHING: Final = 0
# Request-level errors.
MESSAGE_RATE_EXCEEDED: Final = 100
MAXIMUM_TICKERS_REACHED: Final = 101
DUPLICATE_TICKER_ID: Final = 102
DUPLICATE_ORDER_ID: Final = 103
CANNOT_MODIFY_FILLED_ORDER: Final = 104
PRICE_OFF_TICK: Final = 110
HISTORICAL_DATA_ERROR: Final = 162
NO_SECURITY_DEFINITION: Final = 200
ORDER_REJECTED: Final = 201
ORDER_CANCELLED: Final = 202
CANNOT_FIND_TICKER_ID: Final = 300
MAXIMUM_MARKET_DEPTH_REQUESTS_REACHED: Final = 309
CANNOT_FIND_MARKET_DEPTH: Final = 310
NOT_VALID_REQUEST: Final = 321
# "Server error when processing an API client request" (a duplicate depth ticker id, a third
# account summary).
SERVER_ERROR_PROCESSING_REQUEST: Final = 322
CLIENT_ID_IN_USE: Final = 326
NO_MARKET_DATA_SUBSCRIPTION: Final = 354
ORDER_SIZE_ZERO: Final = 434
ORDER_TO_CANCEL_NOT_FOUND: Final = 10147
ACCOUNT_SUMMARY_LIMIT: Final = 322
DEEP_MARKET_DATA_NOT_SUPPORTED: Final = 10092
TICK_BY_TICK_NOT_SUPPORTED: Final = 10189
MAXIMUM_TICK_BY_TICK_REACHED: Final = 10190
NO_MARKET_DATA_DURING_COMPETING_SESSION: Final = 10197

# Connectivity between the gateway and IB's servers.
CONNECTIVITY_LOST: Final = 1100
CONNECTIVITY_RESTORED_DATA_LOST: Final = 1101
CONNECTIVITY_RESTORED_DATA_KEPT: Final = 1102

# Farm status notices that every real session starts with.
MARKET_DATA_FARM_OK: Final = 2104
HISTORICAL_DATA_FARM_OK: Final = 2106
SECURITY_DEFINITION_FARM_OK: Final = 2158

CONNECTIVITY_CODES: Final = frozenset(
    {CONNECTIVITY_LOST, CONNECTIVITY_RESTORED_DATA_LOST, CONNECTIVITY_RESTORED_DATA_KEPT}
)
FARM_NOTICE_CODES: Final = frozenset(
    {MARKET_DATA_FARM_OK, HISTORICAL_DATA_FARM_OK, SECURITY_DEFINITION_FARM_OK}
)
ORDER_REJECTION_CODES: Final = frozenset(
    {
        ORDER_REJECTED,
        CANNOT_MODIFY_FILLED_ORDER,
        DUPLICATE_ORDER_ID,
        PRICE_OFF_TICK,
        ORDER_SIZE_ZERO,
    }
)

CONNECTIVITY_MESSAGES: Final = {
    CONNECTIVITY_LOST: "Connectivity between IB and Trader Workstation has been lost.",
    CONNECTIVITY_RESTORED_DATA_LOST: (
        "Connectivity between IB and Trader Workstation has been restored - data lost."
    ),
    CONNECTIVITY_RESTORED_DATA_KEPT: (
        "Connectivity between IB and Trader Workstation has been restored - data maintained."
    ),
}
