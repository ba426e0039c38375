"""`ibkr-grpc probe-gateway` and `ibkr-grpc probe-health`: container health checks that exit 0
when healthy and 1 otherwise, printing one line either way."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ibkr_grpc.broker.probe import gateway_answers


def run_gateway(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc probe-gateway",
        description="Exit 0 when IB Gateway completes an API handshake (nextValidId) in time.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--client-id", type=int, default=999, help="a client id kept for probes")
    parser.add_argument("--timeout", type=float, default=10.0)
    options = parser.parse_args(list(arguments))
    healthy = asyncio.run(
        gateway_answers(
            options.host, options.port, client_id=options.client_id, seconds=options.timeout
        )
    )
    print(f"IB Gateway at {options.host}:{options.port}: {'ready' if healthy else 'not ready'}")  # noqa: T201
    return 0 if healthy else 1


def run_health(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc probe-health",
        description="Exit 0 when the server's grpc.health.v1 check says SERVING.",
    )
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--service", default="", help="a service name; empty for the server")
    parser.add_argument("--timeout", type=float, default=5.0)
    options = parser.parse_args(list(arguments))
    status = asyncio.run(_health(options.target, options.service, options.timeout))
    print(f"{options.target} {options.service or 'server'}: {status}")  # noqa: T201
    return 0 if status == "SERVING" else 1


async def _health(target: str, service: str, seconds: float) -> str:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=seconds
            )
        except grpc.aio.AioRpcError as error:
            return f"unreachable ({error.code().name})"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
