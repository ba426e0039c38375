"""JSON logs through structlog, for our code and the standard library's loggers (ib_async,
grpc, SQLAlchemy) alike: one line per event with timestamp, level, logger and event."""

from __future__ import annotations

import logging
import re
import sys

import structlog

from ibkr_grpc.broker.error_codes import ORDER_CANCELLED_CODE

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
]


# IB's routine notices: an order message (399, e.g. "held until the open") and the data farms
# reporting they are connected. ib_async logs some of them at ERROR or WARNING.
ROUTINE_NOTICES = frozenset({399, 2104, 2106, 2107, 2108, 2158})
# ib_async's own lines: "Error 202, reqId 7: Order Canceled - reason:" (or "Warning ...").
_IB_LINE = re.compile(
    r"(?:Error|Warning) (?P<code>-?[0-9]+), reqId -?[0-9]+: (?P<text>.*)", re.DOTALL
)
# ...and a trade it prints after one ("Canceled order: Trade(..., log=[..., TradeLogEntry(...,
# message='Error 202, reqId 7: Order Canceled - reason:', errorCode=202)], ...)"): the trade's
# newest log entry is the notice.
_TRADE_LINE = re.compile(
    r"(?:Canceled order|IBKR API validation warning): Trade\(.*"
    r"message=(?P<quote>['\"])(?P<text>.*?)(?P=quote), errorCode=(?P<code>-?[0-9]+)\)\], "
    r"advancedError=.*\)",
    re.DOTALL,
)
# IB's answer to our own cancel request carries no reason; IB's own cancels say why.
_OWN_CANCEL = re.compile(r"(?:(?:Error|Warning) [0-9]+, reqId -?[0-9]+: )?Order Canceled - reason:")


def is_routine_notice(message: str) -> bool:
    """Whether an `ib_async.wrapper` log line is one of IB's routine notices."""
    match = _IB_LINE.match(message) or _TRADE_LINE.match(message)
    if match is None:
        return False
    code = int(match["code"])
    if code == ORDER_CANCELLED_CODE:
        return _OWN_CANCEL.fullmatch(match["text"].strip()) is not None
    return code in ROUTINE_NOTICES


class RoutineNoticeFilter(logging.Filter):
    """Logs IB's routine notices at INFO: ib_async reports the 202 that confirms every cancel
    as an ERROR, and an order message (399) as a WARNING. A downgraded record then passes only
    where its logger takes INFO, like any other INFO line of ib_async."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.INFO or not is_routine_notice(record.getMessage()):
            return True
        record.levelno = logging.INFO
        record.levelname = logging.getLevelName(logging.INFO)
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


def configure_logging(level: str) -> None:
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # ib_async logs every message it handles at INFO; its warnings and errors are what matter.
    logging.getLogger("ib_async").setLevel(max(logging.WARNING, root.level))
    wrapper = logging.getLogger("ib_async.wrapper")
    if not any(isinstance(existing, RoutineNoticeFilter) for existing in wrapper.filters):
        wrapper.addFilter(RoutineNoticeFilter())
