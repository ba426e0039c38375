import { createClient } from "@connectrpc/connect";
import { GatewayService } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { readConfig } from "../app/config";
import { createTokenStore } from "./tokenStore";
import { createApiTransport } from "./transport";

/** A fetch that records the request and answers like Envoy with an empty gRPC-Web response. */
function recordingFetch(requests: Request[]): typeof globalThis.fetch {
  return (input, init) => {
    requests.push(new Request(input, init));
    // An empty message frame (flag 0, length 0), then the trailer frame (flag 0x80) with
    // grpc-status 0: an empty OK response.
    const trailer = new TextEncoder().encode("grpc-status: 0\r\n");
    const frame = new Uint8Array(5 + 5 + trailer.length);
    frame[5] = 0x80;
    new DataView(frame.buffer).setUint32(6, trailer.length);
    frame.set(trailer, 10);
    return Promise.resolve(
      new Response(frame, { status: 200, headers: { "content-type": "application/grpc-web+proto" } }),
    );
  };
}

describe("the gRPC-Web transport", () => {
  it("calls Envoy at the base URL with gRPC-Web and the bearer token", async () => {
    const requests: Request[] = [];
    const tokens = createTokenStore(window.sessionStorage);
    const transport = createApiTransport("http://127.0.0.1:8080", tokens, { fetch: recordingFetch(requests) });
    const client = createClient(GatewayService, transport);

    await client.getGatewayStatus({});
    tokens.set("  jwt.token.value  ");
    await client.getGatewayStatus({});

    expect(requests.map((request) => request.url)).toEqual([
      "http://127.0.0.1:8080/ibkr.v1.GatewayService/GetGatewayStatus",
      "http://127.0.0.1:8080/ibkr.v1.GatewayService/GetGatewayStatus",
    ]);
    expect(requests[0]?.headers.get("content-type")).toBe("application/grpc-web+proto");
    expect(requests[0]?.headers.get("authorization")).toBeNull();
    expect(requests[1]?.headers.get("authorization")).toBe("Bearer jwt.token.value");
    expect(window.sessionStorage.getItem("ibkr-grpc.apiToken")).toBe("jwt.token.value");
  });
});

describe("readConfig", () => {
  it("defaults to the page's own origin (Envoy serves the UI and the API on one port)", () => {
    const config = readConfig({}, "http://127.0.0.1:8080");
    expect(config.apiBaseUrl).toBe("http://127.0.0.1:8080");
    expect(config.heartbeatIntervalMs).toBe(5000);
  });

  it("takes VITE_API_BASE_URL and VITE_HEARTBEAT_INTERVAL_SECONDS", () => {
    const config = readConfig(
      { VITE_API_BASE_URL: "https://trading.example/api/", VITE_HEARTBEAT_INTERVAL_SECONDS: "15" },
      "http://localhost:5173",
    );
    expect(config.apiBaseUrl).toBe("https://trading.example/api");
    expect(config.heartbeatIntervalMs).toBe(15_000);
  });

  it("ignores a heartbeat interval outside the contract's 1 to 300 s", () => {
    expect(readConfig({ VITE_HEARTBEAT_INTERVAL_SECONDS: "0" }, "x").heartbeatIntervalMs).toBe(5000);
    expect(readConfig({ VITE_HEARTBEAT_INTERVAL_SECONDS: "301" }, "x").heartbeatIntervalMs).toBe(5000);
  });
});
