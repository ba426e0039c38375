import { createRouterTransport } from "@connectrpc/connect";
import { useQuery } from "@connectrpc/connect-query";
import { ConnectionState, GatewayService } from "@ibkr-grpc/client";
import { act, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { TEST_CONFIG } from "../test/renderApp";
import { ApiProvider } from "./ApiProvider";
import { createQueryClient } from "./queryClient";
import { createTokenStore } from "./tokenStore";
import { bearerTokenInterceptor } from "./transport";

function GatewayState() {
  const status = useQuery(GatewayService.method.getGatewayStatus, {});
  return <p data-testid="state">{status.data?.status?.state ?? "loading"}</p>;
}

function renderReads() {
  const authorizations: (string | null)[] = [];
  const tokens = createTokenStore(window.sessionStorage);
  tokens.set("first.token.value");
  const transport = createRouterTransport(
    (router) => {
      router.service(GatewayService, {
        getGatewayStatus: (_request, context) => {
          authorizations.push(context.requestHeader.get("authorization"));
          return { status: { state: ConnectionState.READY } };
        },
      });
    },
    { transport: { interceptors: [bearerTokenInterceptor(tokens)] } },
  );
  const queryClient = createQueryClient(TEST_CONFIG.backoff);
  render(
    <ApiProvider transport={transport} tokens={tokens} queryClient={queryClient} config={TEST_CONFIG}>
      <GatewayState />
    </ApiProvider>,
  );
  return { authorizations, tokens };
}

describe("ApiProvider", () => {
  it("serves connect-query's reads over the injected transport, with the token", async () => {
    const { authorizations } = renderReads();
    await waitFor(() => {
      expect(screen.getByTestId("state").textContent).toBe(String(ConnectionState.READY));
    });
    expect(authorizations).toEqual(["Bearer first.token.value"]);
  });

  it("reads again with a new token, as the streams restart", async () => {
    const { authorizations, tokens } = renderReads();
    await waitFor(() => {
      expect(authorizations).toHaveLength(1);
    });
    act(() => {
      tokens.set("second.token.value");
    });
    await waitFor(() => {
      expect(authorizations).toEqual(["Bearer first.token.value", "Bearer second.token.value"]);
    });
  });
});
