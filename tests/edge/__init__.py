"""Envoy at the edge: gRPC-Web, HTTP/JSON, CORS and the UI files, through the real proxy."""
