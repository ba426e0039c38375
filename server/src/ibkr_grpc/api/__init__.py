"""The gRPC edge: servicers, proto <-> domain conversions, error mapping and interceptors.
Protobuf types stop here; nothing below this package sees them."""
