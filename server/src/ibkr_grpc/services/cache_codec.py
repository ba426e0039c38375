"""Market-data values as JSON for the shared cache and the quote channels (exact decimals as
strings, UTC times in ISO 8601)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OptionRight, SecurityType
from ibkr_grpc.domain.market_data import ContractDetails, MarketDataKind, Quote
from ibkr_grpc.domain.options import OptionGreeks

_QUOTE_DECIMALS = (
    "bid",
    "bid_size",
    "ask",
    "ask_size",
    "last",
    "last_size",
    "volume",
    "high",
    "low",
    "open",
    "close",
)
_GREEKS = tuple(OptionGreeks.__dataclass_fields__)
_DETAIL_DECIMALS = ("minimum_tick", "minimum_size", "size_increment")
_DETAIL_TEXTS = (
    "long_name",
    "time_zone",
    "trading_hours",
    "liquid_hours",
    "industry",
    "category",
    "subcategory",
    "stock_type",
    "market_name",
)


def _decimal(value: Decimal | None) -> str | None:
    return format(value, "f") if value is not None else None


def _read_decimal(value: object) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def contract_document(contract: ContractSpec) -> dict[str, Any]:
    return {
        "symbol": contract.symbol,
        "security_type": contract.security_type.value,
        "exchange": contract.exchange,
        "currency": contract.currency,
        "con_id": contract.con_id,
        "primary_exchange": contract.primary_exchange,
        "local_symbol": contract.local_symbol,
        "trading_class": contract.trading_class,
        "last_trade_date_or_contract_month": contract.last_trade_date_or_contract_month,
        "strike": _decimal(contract.strike),
        "right": contract.right.value,
        "multiplier": contract.multiplier,
    }


def contract_of(document: dict[str, Any]) -> ContractSpec:
    return ContractSpec(
        symbol=document["symbol"],
        security_type=SecurityType(document["security_type"]),
        exchange=document["exchange"],
        currency=document["currency"],
        con_id=int(document["con_id"]),
        primary_exchange=document["primary_exchange"],
        local_symbol=document["local_symbol"],
        trading_class=document["trading_class"],
        last_trade_date_or_contract_month=document["last_trade_date_or_contract_month"],
        strike=_read_decimal(document["strike"]),
        right=OptionRight(document["right"]),
        multiplier=document["multiplier"],
    )


def contract_key(contract: ContractSpec) -> str:
    """A short stable key for a contract description, for cache keys."""
    return hashlib.sha256(repr(contract).encode()).hexdigest()[:32]


def encode_quote(quote: Quote) -> bytes:
    document: dict[str, Any] = {name: _decimal(getattr(quote, name)) for name in _QUOTE_DECIMALS}
    document |= {
        "contract": contract_document(quote.contract),
        "receive_time": quote.receive_time.isoformat(),
        "exchange_time": quote.exchange_time.isoformat() if quote.exchange_time else None,
        "kind": quote.kind.value,
    }
    if quote.greeks is not None:
        document["greeks"] = {name: _decimal(getattr(quote.greeks, name)) for name in _GREEKS}
    return json.dumps(document).encode()


def decode_quote(payload: bytes) -> Quote:
    document = json.loads(payload)
    exchange_time = document["exchange_time"]
    greeks = document.get("greeks")
    return Quote(
        contract=contract_of(document["contract"]),
        receive_time=datetime.fromisoformat(document["receive_time"]),
        exchange_time=datetime.fromisoformat(exchange_time) if exchange_time else None,
        kind=MarketDataKind(document["kind"]),
        greeks=OptionGreeks(**{name: _read_decimal(greeks[name]) for name in _GREEKS})
        if greeks is not None
        else None,
        **{name: _read_decimal(document[name]) for name in _QUOTE_DECIMALS},
    )


def encode_contract(contract: ContractSpec) -> bytes:
    return json.dumps(contract_document(contract)).encode()


def decode_contract(payload: bytes) -> ContractSpec:
    return contract_of(json.loads(payload))


def encode_details(details: list[ContractDetails]) -> bytes:
    documents = []
    for item in details:
        document: dict[str, Any] = {name: getattr(item, name) for name in _DETAIL_TEXTS}
        document |= {name: _decimal(getattr(item, name)) for name in _DETAIL_DECIMALS}
        document |= {
            "contract": contract_document(item.contract),
            "order_types": list(item.order_types),
            "valid_exchanges": list(item.valid_exchanges),
        }
        documents.append(document)
    return json.dumps(documents).encode()


def decode_details(payload: bytes) -> list[ContractDetails]:
    return [
        ContractDetails(
            contract=contract_of(document["contract"]),
            long_name=document["long_name"],
            minimum_tick=_read_decimal(document["minimum_tick"]),
            minimum_size=_read_decimal(document["minimum_size"]),
            size_increment=_read_decimal(document["size_increment"]),
            order_types=tuple(document["order_types"]),
            valid_exchanges=tuple(document["valid_exchanges"]),
            time_zone=document["time_zone"],
            trading_hours=document["trading_hours"],
            liquid_hours=document["liquid_hours"],
            industry=document["industry"],
            category=document["category"],
            subcategory=document["subcategory"],
            stock_type=document["stock_type"],
            market_name=document["market_name"],
        )
        for document in json.loads(payload)
    ]
