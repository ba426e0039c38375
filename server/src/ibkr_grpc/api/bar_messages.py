"""Bars at the edge: the proto enums of bar sizes, sources and span units, and Bar messages
(shared by GetHistoricalBars and StreamBars)."""

from __future__ import annotations

from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_grpc.api.conversions import timestamp
from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.market_data import Bar, BarSize, BarSource, SpanUnit

BAR_SIZES = {
    pb.BAR_SIZE_1_SECOND: BarSize.SECONDS_1,
    pb.BAR_SIZE_5_SECONDS: BarSize.SECONDS_5,
    pb.BAR_SIZE_10_SECONDS: BarSize.SECONDS_10,
    pb.BAR_SIZE_15_SECONDS: BarSize.SECONDS_15,
    pb.BAR_SIZE_30_SECONDS: BarSize.SECONDS_30,
    pb.BAR_SIZE_1_MINUTE: BarSize.MINUTES_1,
    pb.BAR_SIZE_2_MINUTES: BarSize.MINUTES_2,
    pb.BAR_SIZE_3_MINUTES: BarSize.MINUTES_3,
    pb.BAR_SIZE_5_MINUTES: BarSize.MINUTES_5,
    pb.BAR_SIZE_10_MINUTES: BarSize.MINUTES_10,
    pb.BAR_SIZE_15_MINUTES: BarSize.MINUTES_15,
    pb.BAR_SIZE_20_MINUTES: BarSize.MINUTES_20,
    pb.BAR_SIZE_30_MINUTES: BarSize.MINUTES_30,
    pb.BAR_SIZE_1_HOUR: BarSize.HOURS_1,
    pb.BAR_SIZE_2_HOURS: BarSize.HOURS_2,
    pb.BAR_SIZE_3_HOURS: BarSize.HOURS_3,
    pb.BAR_SIZE_4_HOURS: BarSize.HOURS_4,
    pb.BAR_SIZE_8_HOURS: BarSize.HOURS_8,
    pb.BAR_SIZE_1_DAY: BarSize.DAYS_1,
    pb.BAR_SIZE_1_WEEK: BarSize.WEEKS_1,
    pb.BAR_SIZE_1_MONTH: BarSize.MONTHS_1,
}
BAR_SOURCES = {pb.BarSource.Value(f"BAR_SOURCE_{source.name}"): source for source in BarSource}
SPAN_UNITS = {pb.SpanUnit.Value(f"SPAN_UNIT_{unit.name}"): unit for unit in SpanUnit}


def bar_message(bar: Bar) -> pb.Bar:
    return pb.Bar(
        start_time=timestamp(bar.start_time),
        open=write_decimal(bar.open),
        high=write_decimal(bar.high),
        low=write_decimal(bar.low),
        close=write_decimal(bar.close),
        volume=write_decimal(bar.volume),
        average_price=write_decimal(bar.average_price),
        trade_count=bar.trade_count,
    )
