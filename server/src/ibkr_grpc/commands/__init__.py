"""The ibkr-grpc subcommands."""
