"""IbkrClient: one channel to an ibkr-grpc server with a typed stub for every ibkr.v1 service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from importlib.metadata import version
from types import TracebackType

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2_grpc

from ibkr.v1 import (
    common_pb2,
    gateway_service_pb2_grpc,
    market_data_service_pb2_grpc,
    option_service_pb2_grpc,
    order_service_pb2_grpc,
    portfolio_service_pb2_grpc,
    risk_service_pb2_grpc,
)
from ibkr_client.metadata import metadata_interceptors
from ibkr_client.order_events import OrderEventFollower
from ibkr_client.quotes import QuoteFollower
from ibkr_client.resilient_stream import ReconnectOptions

DEFAULT_TARGET = "127.0.0.1:50051"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_HEARTBEAT_INTERVAL = timedelta(seconds=15)


class IbkrClient:
    """Typed stubs over one channel, with auth, request ids and a default deadline on every call.

    Use it as an async context manager so the channel closes:

        async with IbkrClient.connect("127.0.0.1:50051", token=token) as client:
            status = await client.gateway.GetGatewayStatus(GetGatewayStatusRequest())

    Failed calls raise grpc.aio.AioRpcError; ApiError.from_rpc_error reads its details.
    """

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.orders = order_service_pb2_grpc.OrderServiceStub(channel)
        self.portfolio = portfolio_service_pb2_grpc.PortfolioServiceStub(channel)
        self.market_data = market_data_service_pb2_grpc.MarketDataServiceStub(channel)
        self.options = option_service_pb2_grpc.OptionServiceStub(channel)
        self.gateway = gateway_service_pb2_grpc.GatewayServiceStub(channel)
        self.risk = risk_service_pb2_grpc.RiskServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)

    @classmethod
    def connect(
        cls,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        root_certificates: bytes | None = None,
        secure: bool = False,
        default_timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
        channel_options: Sequence[tuple[str, str | int]] = (),
    ) -> IbkrClient:
        """Open a channel to `target` ("host:port").

        `token` is sent as "authorization: Bearer TOKEN" on every call. `secure` (or
        `root_certificates`) selects TLS. Unary calls without an explicit timeout get
        `default_timeout` seconds; streams get none. `channel_options` are further gRPC
        channel arguments; for instance ("grpc.http2.bdp_probe", 0) keeps the transport's
        receive window at its initial 64 KiB, so that a reader which falls behind a quote
        stream has fewer stale quotes queued in the transport before the server's conflation
        takes over.
        """
        options: list[tuple[str, str | int]] = [
            ("grpc.primary_user_agent", f"ibkr-grpc-client/{version('ibkr-grpc-client')}"),
            ("grpc.keepalive_time_ms", 30_000),
            *channel_options,
        ]
        interceptors = metadata_interceptors(token=token, default_timeout=default_timeout)
        if secure or root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            channel = grpc.aio.secure_channel(
                target, credentials, options=options, interceptors=interceptors
            )
        else:
            channel = grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
        return cls(channel)

    def follow_order_events(
        self,
        after_sequence: int = 0,
        *,
        account: str = "",
        replay_from_start: bool = False,
        replay_last: int = 0,
        heartbeat_interval: timedelta = DEFAULT_HEARTBEAT_INTERVAL,
        reconnect: ReconnectOptions | None = None,
    ) -> OrderEventFollower:
        """Follow StreamOrderEvents for as long as you iterate, across dropped streams.

        Yields each OrderEvent exactly once, in sequence order, and the StreamMarkers
        (REPLAY_COMPLETE once per opened stream, after the events it replayed; the gateway's
        DISCONNECTED and RECONCILED); heartbeats are not yielded. Start like the RPC does: after
        `after_sequence` (the last event you processed), from the first stored event
        (`replay_from_start`), from the newest `replay_last`, or live (none of them).

        On UNAVAILABLE (the server stopping or away), DEADLINE_EXCEEDED, CANCELLED by the
        server, RESOURCE_EXHAUSTED with a RetryInfo, a stream the server ended, or a stream
        silent for three heartbeat intervals, it reopens the stream after a backoff (see
        RetryPolicy; a RetryInfo delay is honoured) with after_sequence set to the last event
        it yielded. Any other failure raises ApiError. A sequence that does not follow the
        last one by exactly one raises OrderEventSequenceError (with `account`, whose events
        skip other accounts' sequences, only a repeat does).

            async with client.follow_order_events(after_sequence=saved) as events:
                async for item in events:
                    if isinstance(item, order_service_pb2.OrderEvent):
                        handle(item)
                        saved = item.sequence
        """
        return OrderEventFollower(
            self.orders,
            after_sequence=after_sequence,
            account=account,
            replay_from_start=replay_from_start,
            replay_last=replay_last,
            heartbeat_interval=heartbeat_interval,
            options=reconnect or ReconnectOptions(),
        )

    def follow_quotes(
        self,
        contracts: Sequence[common_pb2.Contract],
        *,
        max_quotes_per_message: int = 0,
        heartbeat_interval: timedelta = DEFAULT_HEARTBEAT_INTERVAL,
        reconnect: ReconnectOptions | None = None,
    ) -> QuoteFollower:
        """Follow StreamQuotes for `contracts` for as long as you iterate, across dropped
        streams.

        Yields Quote messages one at a time (a batch, with `max_quotes_per_message` of 2 to
        100, is handed out quote by quote), SubscriptionError for a contract the server cannot
        subscribe, and StreamMarkers; heartbeats are not yielded. A broken stream is reopened
        as follow_order_events reopens its own. Quotes have no sequence: after a reconnect the
        stream starts again with the latest quote the server holds for each contract (a
        contract with none yet sends its next one), and changes during the outage are not
        replayed. Failures that a retry cannot cure raise ApiError.
        """
        return QuoteFollower(
            self.market_data,
            contracts,
            max_quotes_per_message=max_quotes_per_message,
            heartbeat_interval=heartbeat_interval,
            options=reconnect or ReconnectOptions(),
        )

    async def close(self) -> None:
        await self.channel.close(grace=None)

    async def __aenter__(self) -> IbkrClient:
        return self

    async def __aexit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
