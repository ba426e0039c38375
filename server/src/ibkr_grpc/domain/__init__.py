"""The service's own types: orders, fills, contracts, errors. No protobuf, no ib_async, no I/O."""
