// Builds the one gRPC-Web transport of the app, pointed at Envoy, with the bearer token added to
// every call. Created once in main.tsx and injected through ApiProvider.
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { TokenStore } from "./tokenStore";

/** Adds `authorization: Bearer TOKEN` when a token is set. */
export function bearerTokenInterceptor(tokens: TokenStore): Interceptor {
  return (next) => async (request) => {
    const token = tokens.get();
    if (token !== "") {
      request.header.set("authorization", `Bearer ${token}`);
    }
    return next(request);
  };
}

export interface ApiTransportOptions {
  /** The fetch to use; the browser's by default (tests pass their own). */
  readonly fetch?: typeof globalThis.fetch;
}

export function createApiTransport(baseUrl: string, tokens: TokenStore, options: ApiTransportOptions = {}): Transport {
  return createGrpcWebTransport({
    baseUrl,
    interceptors: [bearerTokenInterceptor(tokens)],
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
}
