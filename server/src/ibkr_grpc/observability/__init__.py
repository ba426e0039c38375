"""Prometheus metrics: their definitions, the gRPC interceptor that feeds the grpc_server_*
family, and the /metrics endpoint."""
