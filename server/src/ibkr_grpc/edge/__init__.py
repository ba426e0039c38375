"""The Envoy edge: renders the Envoy configuration that serves gRPC-Web, HTTP/JSON and the UI."""
