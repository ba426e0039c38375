"""Renders the Envoy configuration of the edge from a few parameters (ports, origins, paths).

`envoy/envoy.yaml` is this module's output with the defaults; tests and the demo render their
own copy with free ports. Run `python -m ibkr_grpc.edge.envoy_config --help`.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

# The services whose google.api.http annotations become HTTP/JSON routes (a test checks that
# this is every service in the descriptor set).
TRANSCODED_SERVICES = (
    "ibkr.v1.OrderService",
    "ibkr.v1.PortfolioService",
    "ibkr.v1.MarketDataService",
    "ibkr.v1.OptionService",
    "ibkr.v1.GatewayService",
    "ibkr.v1.RiskService",
)

# Origins of the Vite dev server (`npm run --workspace webapp dev`). The UI that Envoy serves
# itself is same-origin and needs no CORS at all.
DEFAULT_ALLOWED_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")

_ORIGIN = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
_HOST = re.compile(r"[A-Za-z0-9.\-]+|[0-9A-Fa-f:.]+")
_SOCKET_PATH = re.compile(r"[A-Za-z0-9_./\-]{1,100}")


@dataclass(frozen=True)
class EdgeConfig:
    """Everything that differs between the committed default, the demo and the tests.

    Relative paths are resolved by Envoy against its working directory (the repository root
    for the committed file).
    """

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    upstream_host: str = "127.0.0.1"
    upstream_port: int = 50051
    # Envoy's admin interface can change its log level (debug logs print bearer tokens), fail
    # its health check and stop it: never on TCP. None: no admin interface at all; a path: a
    # Unix socket of mode 0600, reachable only by Envoy's own user.
    admin_socket: str | None = None
    # A listener that serves only GET /ready and GET /stats/prometheus, read from the admin
    # socket: for Prometheus and probes on another host. Needs admin_socket.
    stats_host: str = "127.0.0.1"
    stats_port: int | None = None
    allowed_origins: tuple[str, ...] = field(default=DEFAULT_ALLOWED_ORIGINS)
    # None leaves out the UI's route and Envoy's file_server filter: an API-only edge.
    static_dir: str | None = "webapp/dist"
    descriptor_path: str = "envoy/ibkr_v1_descriptor.binpb"
    # The folder holding envoy/openapi.json, envoy/docs and node_modules/swagger-ui-dist (the
    # repository, or a copy of those three): served at /openapi.json and /docs/. None: neither.
    docs_root: str | None = "."

    def __post_init__(self) -> None:
        for name in ("listen_port", "upstream_port", "stats_port"):
            port = getattr(self, name)
            if port is not None and not 0 < port < 65536:
                raise ValueError(f"{name} must be a TCP port (1-65535), not {port}")
        if self.admin_socket is not None and not _SOCKET_PATH.fullmatch(self.admin_socket):
            raise ValueError("admin_socket must be a file path (letters, digits, / . _ -)")
        if self.stats_port is not None and self.admin_socket is None:
            raise ValueError("stats_port must come with admin_socket: it reads the admin")
        for name in ("listen_host", "upstream_host", "stats_host"):
            if not _HOST.fullmatch(getattr(self, name)):
                raise ValueError(f"{name} must be a host name or an IP address")
        for origin in self.allowed_origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"an allowed origin is scheme://host[:port], not {origin!r}")
        if self.static_dir == "" or self.docs_root == "" or not self.descriptor_path:
            raise ValueError("static_dir, docs_root and descriptor_path must not be empty")


# (HTTP status, gRPC code, message prefix, only on /v1/) for each reply Envoy makes itself.
# Headers too large are refused before Envoy has a path to look at, so on any path.
_LOCAL_REPLIES = (
    (400, 3, "invalid request", True),
    (404, 5, "no method at this path", True),
    (405, 5, "no method at this path", True),
    (413, 3, "the request is too large", True),
    (431, 3, "the request's headers are too large", False),
)
_STATUS_FILTER = """\
                        status_code_filter:
                          comparison: {op: EQ, value: {default_value: %d, runtime_key: edge.local_reply.status}}
"""
# The transcoder rewrites :path to the gRPC method's and keeps the path as sent in
# x-envoy-original-path.
_STATUS_ON_API_PATH_FILTER = """\
                        and_filter:
                          filters:
                            - status_code_filter:
                                comparison: {op: EQ, value: {default_value: %d, runtime_key: edge.local_reply.status}}
                            - or_filter:
                                filters:
                                  - header_filter:
                                      header: {name: ":path", string_match: {prefix: "/v1/"}}
                                  - header_filter:
                                      header: {name: x-envoy-original-path, string_match: {prefix: "/v1/"}}
"""
_LOCAL_REPLY_MAPPER = Template("""\
                    - filter:
$filter                      body_format_override:
                        content_type: application/json
                        json_format:
                          code: $code
                          message: "$message: %LOCAL_REPLY_BODY%"
                          details:
                            - "@type": type.googleapis.com/google.rpc.ErrorInfo
                              reason: VALIDATION_ERROR
                              domain: ibkr.v1
""")


def _local_reply_mappers() -> str:
    """Envoy's own refusals as google.rpc.Status JSON with a catalogue reason."""
    return "".join(
        _LOCAL_REPLY_MAPPER.substitute(
            filter=(_STATUS_ON_API_PATH_FILTER if api_only else _STATUS_FILTER) % status,
            code=code,
            message=message,
        )
        for status, code, message, api_only in _LOCAL_REPLIES
    ).rstrip("\n")


def render(config: EdgeConfig | None = None) -> str:
    """The Envoy bootstrap configuration (YAML) for `config` (the defaults when None)."""
    config = config or EdgeConfig()
    origins = "\n".join(
        f"                            - exact: {json.dumps(origin)}"
        for origin in config.allowed_origins
    )
    return _TEMPLATE.substitute(
        admin=_admin(config.admin_socket),
        stats_listener=_stats_listener(config),
        stats_cluster=_STATS_CLUSTER.substitute(admin_socket=json.dumps(config.admin_socket))
        if config.stats_port is not None
        else "",
        listen_host=json.dumps(config.listen_host),
        listen_port=config.listen_port,
        upstream_host=json.dumps(config.upstream_host),
        upstream_port=config.upstream_port,
        allowed_origins=origins or "                            []",
        local_reply_mappers=_local_reply_mappers(),
        docs_routes=_docs_routes(config.docs_root),
        ui_route=_ui_route(config.static_dir),
        file_server_filter=_FILE_SERVER_FILTER
        if config.static_dir is not None or config.docs_root is not None
        else "",
        descriptor_path=json.dumps(config.descriptor_path),
        services=json.dumps(list(TRANSCODED_SERVICES)),
    )


def _admin(admin_socket: str | None) -> str:
    if admin_socket is None:
        return "# No admin interface (render with --admin-socket PATH for one).\n"
    return _ADMIN.substitute(admin_socket=json.dumps(admin_socket))


def _stats_listener(config: EdgeConfig) -> str:
    if config.stats_port is None:
        return ""
    return _STATS_LISTENER.substitute(
        stats_host=json.dumps(config.stats_host), stats_port=config.stats_port
    )


def _ui_route(static_dir: str | None) -> str:
    if static_dir is None:
        return ""
    # file_server refuses any path that is not lexically normal: normalise it here.
    return _UI_ROUTE.substitute(static_dir=json.dumps(posixpath.normpath(static_dir)))


def _docs_routes(docs_root: str | None) -> str:
    if docs_root is None:
        return ""

    def under_root(path: str) -> str:
        return json.dumps(posixpath.normpath(posixpath.join(docs_root, path)))

    return _DOCS_ROUTES.substitute(
        envoy_folder=under_root("envoy"), swagger_ui=under_root("node_modules/swagger-ui-dist")
    )


def write(config: EdgeConfig, path: Path) -> Path:
    """Render `config` into `path` and return it."""
    path.write_text(render(config), encoding="utf-8")
    return path


def _split_address(value: str) -> tuple[str, int]:
    host, separator, port = value.rpartition(":")
    if not separator or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> int:
    defaults = EdgeConfig()
    parser = argparse.ArgumentParser(
        prog="python -m ibkr_grpc.edge.envoy_config",
        description="Write the Envoy configuration of the ibkr-grpc edge.",
    )
    parser.add_argument(
        "--listen",
        type=_split_address,
        default=(defaults.listen_host, defaults.listen_port),
        help="where Envoy listens (default 127.0.0.1:8080)",
    )
    parser.add_argument(
        "--upstream",
        type=_split_address,
        default=(defaults.upstream_host, defaults.upstream_port),
        help="the ibkr-grpc server (default 127.0.0.1:50051)",
    )
    parser.add_argument(
        "--admin-socket",
        help="Envoy's admin interface on this Unix socket, mode 0600 (default: none)",
    )
    parser.add_argument(
        "--stats-listen",
        type=_split_address,
        help="serve only GET /ready and /stats/prometheus on HOST:PORT (needs --admin-socket)",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        help="an origin allowed by CORS; repeat for several (default: the Vite dev server)",
    )
    static_files = parser.add_mutually_exclusive_group()
    static_files.add_argument(
        "--static-dir", default=defaults.static_dir, help="the UI's files (default webapp/dist)"
    )
    static_files.add_argument(
        "--no-static-files",
        dest="static_dir",
        action="store_const",
        const=None,
        help="serve the API only (no UI, no /openapi.json or /docs, no file_server filter)",
    )
    parser.add_argument(
        "--docs-root",
        default=defaults.docs_root,
        help="the folder with envoy/openapi.json, envoy/docs and node_modules/swagger-ui-dist "
        "(default: . , the repository)",
    )
    parser.add_argument(
        "--descriptor", default=defaults.descriptor_path, help="the ibkr.v1 descriptor set"
    )
    parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    arguments = parser.parse_args(argv)
    try:
        config = EdgeConfig(
            listen_host=arguments.listen[0],
            listen_port=arguments.listen[1],
            upstream_host=arguments.upstream[0],
            upstream_port=arguments.upstream[1],
            admin_socket=arguments.admin_socket,
            stats_host=arguments.stats_listen[0] if arguments.stats_listen else "127.0.0.1",
            stats_port=arguments.stats_listen[1] if arguments.stats_listen else None,
            allowed_origins=tuple(arguments.allowed_origins or defaults.allowed_origins),
            static_dir=arguments.static_dir,
            descriptor_path=arguments.descriptor,
            docs_root=None if arguments.static_dir is None else arguments.docs_root,
        )
    except ValueError as error:
        parser.error(str(error))
    if arguments.output is None:
        sys.stdout.write(render(config))
    else:
        write(config, arguments.output)
    return 0


_TEMPLATE = Template("""\
# Envoy at the edge of ibkr-grpc, on one port: gRPC-Web for the browser UI, HTTP/JSON
# transcoded from the google.api.http annotations for curl and scripts, and the UI's files.
# Generated by `python -m ibkr_grpc.edge.envoy_config`: edit the renderer, not this file
# (a test keeps envoy/envoy.yaml equal to its defaults). Relative paths are resolved against
# Envoy's working directory. Run: envoy -c envoy/envoy.yaml --disable-hot-restart
# Never run it with --log-level debug or trace where tokens matter: those levels print every
# request header, the authorization header too. The access log below names none.
$admin
overload_manager:
  resource_monitors:
    - name: envoy.resource_monitors.global_downstream_max_connections
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
        max_active_downstream_connections: 10000

static_resources:
  listeners:
    - name: edge
      address:
        socket_address: {address: $listen_host, port_value: $listen_port}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: edge
                codec_type: AUTO
                # The edge: the peer address is the client's. Clients' own x-request-id is
                # kept so a call can be found in the server's logs with the id the client sent.
                use_remote_address: true
                preserve_external_request_id: true
                normalize_path: true
                merge_slashes: true
                # What Envoy refuses by itself under /v1/ (the transcoder's JSON, query and path
                # errors; a request too large) comes back as the server's errors do: a
                # google.rpc.Status with an ErrorInfo reason from the catalogue, not plain text.
                local_reply_config:
                  mappers:
$local_reply_mappers
                access_log:
                  - name: envoy.access_loggers.stdout
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
                      log_format:
                        json_format:
                          timestamp: "%START_TIME%"
                          request_id: "%REQ(X-REQUEST-ID)%"
                          method: "%REQ(:METHOD)%"
                          path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"
                          protocol: "%PROTOCOL%"
                          status: "%RESPONSE_CODE%"
                          grpc_status: "%GRPC_STATUS%"
                          details: "%RESPONSE_CODE_DETAILS%"
                          duration_ms: "%DURATION%"
                route_config:
                  name: edge
                  virtual_hosts:
                    - name: ibkr
                      domains: ["*"]
                      typed_per_filter_config:
                        envoy.filters.http.cors:
                          "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                          allow_origin_string_match:
$allowed_origins
                          allow_methods: "GET, POST, PATCH, OPTIONS"
                          allow_headers: "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization, x-request-id"
                          expose_headers: "grpc-status, grpc-message, grpc-status-details-bin, x-request-id"
                          max_age: "600"
                          # Envoy answers a preflight from another origin itself, without
                          # CORS headers, instead of passing it to the gRPC server.
                          forward_not_matching_preflights: false
                      routes:
                        # gRPC and gRPC-Web. No route timeout: server streams run for hours.
                        - name: grpc
                          match: {prefix: "/ibkr.v1."}
                          route:
                            cluster: ibkr_grpc
                            timeout: 0s
                            max_stream_duration: {grpc_timeout_header_max: 0s}
                        - name: grpc_health
                          match: {prefix: "/grpc.health.v1.Health/"}
                          route:
                            cluster: ibkr_grpc
                            timeout: 0s
                            max_stream_duration: {grpc_timeout_header_max: 0s}
                        # Reflection lets `buf curl` and grpcurl work through Envoy with no
                        # proto files; it describes nothing that the descriptor set does not.
                        - name: grpc_reflection
                          match: {prefix: "/grpc.reflection."}
                          route:
                            cluster: ibkr_grpc
                            timeout: 0s
                            max_stream_duration: {grpc_timeout_header_max: 0s}
                        # HTTP/JSON: the transcoder maps /v1/... to a gRPC method, or answers
                        # 404 itself for a path no google.api.http annotation declares.
                        - name: http_json
                          match: {prefix: "/v1/"}
                          route:
                            cluster: ibkr_grpc
                            timeout: 0s
                            max_stream_duration: {grpc_timeout_header_max: 0s}
$docs_routes$ui_route                        - name: not_found
                          match: {prefix: "/"}
                          direct_response: {status: 404, body: {inline_string: "not found\\n"}}
                http_filters:
                  - name: envoy.filters.http.cors
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
                  - name: envoy.filters.http.grpc_web
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb
                  # gRPC allows header names of [0-9a-z_.-] only and fails a call that carries
                  # any other (HTTP/1.1 allows "&", "!", ...) as INTERNAL: drop such headers here.
                  - name: envoy.filters.http.header_mutation
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation
                      mutations:
                        request_mutations:
                          - remove_on_match:
                              key_matcher: {safe_regex: {regex: "(?:[^:0-9a-z_.-]|[0-9a-z_.-]+[^0-9a-z_.-]).*"}}
                  - name: envoy.filters.http.grpc_json_transcoder
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder
                      proto_descriptor: $descriptor_path
                      services: $services
                      convert_grpc_status: true
                      request_validation_options:
                        reject_unknown_method: true
                        reject_unknown_query_parameters: true
                      print_options:
                        # Field names as in the proto (client_order_id), as requests, query
                        # parameters and the docs spell them; every field printed, so a
                        # response always has the same shape ("" is an unset decimal).
                        preserve_proto_field_names: true
                        always_print_primitive_fields: true
                        always_print_enums_as_ints: false
                        # One message per line: server streams are newline-delimited JSON.
                        add_whitespace: false
                        stream_newline_delimited: true
$file_server_filter                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
$stats_listener
  clusters:
    - name: ibkr_grpc
      type: STRICT_DNS
      dns_lookup_family: V4_PREFERRED
      connect_timeout: 2s
      load_assignment:
        cluster_name: ibkr_grpc
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {address: $upstream_host, port_value: $upstream_port}
      # Every open stream counts as one request; the default (1024) would cap the UI tabs.
      circuit_breakers:
        thresholds:
          - {max_requests: 10000}
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config:
            http2_protocol_options:
              # Find a dead server connection between heartbeats, not at the next write.
              connection_keepalive: {interval: 30s, timeout: 5s}
$stats_cluster""")

# Mode 0600 (384): only Envoy's own user may connect. The socket's folder should be private too.
_ADMIN = Template("""\
admin:
  address:
    pipe: {path: $admin_socket, mode: 384}
""")

# Read-only: two exact GET paths reach the admin socket, everything else is 404, so the network
# can scrape metrics but not change the log level, fail the health check or stop Envoy.
_STATS_LISTENER = Template("""\
    - name: stats
      address:
        socket_address: {address: $stats_host, port_value: $stats_port}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: stats
                codec_type: AUTO
                normalize_path: true
                merge_slashes: true
                route_config:
                  name: stats
                  virtual_hosts:
                    - name: stats
                      domains: ["*"]
                      routes:
                        - match:
                            path: "/stats/prometheus"
                            headers:
                              - {name: ":method", string_match: {exact: "GET"}}
                          route: {cluster: envoy_admin}
                        - match:
                            path: "/ready"
                            headers:
                              - {name: ":method", string_match: {exact: "GET"}}
                          route: {cluster: envoy_admin}
                        - match: {prefix: "/"}
                          direct_response: {status: 404, body: {inline_string: "not found\\n"}}
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
""")

_STATS_CLUSTER = Template("""\
    - name: envoy_admin
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: envoy_admin
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    pipe: {path: $admin_socket}
""")

# Only with static files: Envoy still marks file_server work in progress.
_UI_ROUTE = Template("""\
                        # The UI's files, read by Envoy's file_server filter. The transcoder is
                        # off here (it would reject every path that is not an API route).
                        - name: ui
                          match:
                            prefix: "/"
                            headers:
                              - name: ":method"
                                string_match: {safe_regex: {regex: "GET|HEAD"}}
                          direct_response: {status: 404}
                          typed_per_filter_config:
                            envoy.filters.http.grpc_json_transcoder:
                              "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
                              disabled: true
                            envoy.filters.http.file_server:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.file_server.v3.FileServerConfig
                              manager_config: {thread_pool: {thread_count: 1}}
                              path_mappings:
                                - {request_path_prefix: "/", file_path_prefix: $static_dir}
                              directory_behaviors:
                                - {default_file: index.html}
                              default_content_type: application/octet-stream
                              content_types:
                                html: text/html; charset=utf-8
                                js: text/javascript; charset=utf-8
                                mjs: text/javascript; charset=utf-8
                                css: text/css; charset=utf-8
                                json: application/json
                                map: application/json
                                webmanifest: application/manifest+json
                                txt: text/plain; charset=utf-8
                                svg: image/svg+xml
                                png: image/png
                                ico: image/x-icon
                                woff2: font/woff2
                                wasm: application/wasm
""")

# The OpenAPI document of the HTTP/JSON routes and its reference page (Swagger UI), read by the
# file_server filter as the UI's files are, with the transcoder off.
_DOCS_ROUTES = Template("""\
                        - name: docs_page
                          match: {path: "/docs"}
                          redirect: {path_redirect: "/docs/"}
                          typed_per_filter_config:
                            envoy.filters.http.grpc_json_transcoder:
                              "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
                              disabled: true
                        - name: docs
                          match:
                            safe_regex: {regex: "/openapi\\\\.json|/docs/.*"}
                            headers:
                              - name: ":method"
                                string_match: {safe_regex: {regex: "GET|HEAD"}}
                          direct_response: {status: 404}
                          typed_per_filter_config:
                            envoy.filters.http.grpc_json_transcoder:
                              "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
                              disabled: true
                            envoy.filters.http.file_server:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.file_server.v3.FileServerConfig
                              manager_config: {thread_pool: {thread_count: 1}}
                              # Under envoy/ only the two paths this route matches, and Swagger UI.
                              path_mappings:
                                - {request_path_prefix: "/", file_path_prefix: $envoy_folder}
                                - {request_path_prefix: "/docs/swagger-ui/", file_path_prefix: $swagger_ui}
                              directory_behaviors:
                                - {default_file: index.html}
                              default_content_type: application/octet-stream
                              content_types:
                                html: text/html; charset=utf-8
                                js: text/javascript; charset=utf-8
                                css: text/css; charset=utf-8
                                json: application/json
                                map: application/json
                                png: image/png
""")

_FILE_SERVER_FILTER = """\
                  # Off except on the ui route, which carries its configuration.
                  - name: envoy.filters.http.file_server
                    disabled: true
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.file_server.v3.FileServerConfig
                      manager_config: {thread_pool: {thread_count: 1}}
"""


if __name__ == "__main__":
    sys.exit(main())
