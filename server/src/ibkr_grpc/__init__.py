"""ibkr-grpc: the gRPC gateway service in front of IB Gateway."""
