// Native gRPC from Node.js: a @connectrpc/connect-node transport speaking the gRPC protocol over
// HTTP/2 to the server itself (no Envoy in between), sending the API token with every call.
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

/** Adds "authorization: Bearer TOKEN" to every request, unary or streaming. */
export function bearerToken(token: string): Interceptor {
  return (next) => async (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}

export interface IbkrConnectionOptions {
  /** The server's host:port, e.g. "127.0.0.1:50051". */
  target: string;
  /** The API token (a JWT). */
  token: string;
  /** TLS to the server; plaintext HTTP/2 (prior knowledge) when false. */
  tls?: boolean;
}

export interface IbkrConnection {
  /** Pass to createClient() from @connectrpc/connect with a service from @ibkr-grpc/client. */
  transport: Transport;
  /**
   * Closes the HTTP/2 connection and every call still open on it. Without it an idle
   * connection keeps the process running until its idle timeout (15 minutes by default).
   */
  close(): void;
}

/** One HTTP/2 connection to the server, shared by every client and call made over it. */
export function connectIbkr(options: IbkrConnectionOptions): IbkrConnection {
  const baseUrl = `${options.tls === true ? "https" : "http"}://${options.target}`;
  const sessionManager = new Http2SessionManager(baseUrl);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors: [bearerToken(options.token)],
  });
  return { transport, close: () => sessionManager.abort() };
}
