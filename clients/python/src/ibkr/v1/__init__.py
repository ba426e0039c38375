"""Generated ibkr.v1 messages and gRPC stubs. Do not edit: run make generate."""
