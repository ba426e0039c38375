"""IbkrClient: one channel to an ibkr-grpc server with a typed stub for every ibkr.v1 service."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from types import TracebackType

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2_grpc

from ibkr.v1 import (
    gateway_service_pb2_grpc,
    market_data_service_pb2_grpc,
    order_service_pb2_grpc,
    portfolio_service_pb2_grpc,
    risk_service_pb2_grpc,
)
from ibkr_client.metadata import metadata_interceptors

DEFAULT_TARGET = "127.0.0.1:50051"
DEFAULT_TIMEOUT_SECONDS = 10.0


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
