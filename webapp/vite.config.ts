// Vite builds the UI into dist/ (served by Envoy next to the API); Vitest runs the component
// tests in happy-dom against in-memory router transports.
//
// `npm run dev` with VITE_DEV_PROXY_TARGET=http://127.0.0.1:8080 proxies the gRPC-Web paths
// (/ibkr.v1.*) to Envoy, so the dev server is same-origin like production and needs no CORS.
import react from "@vitejs/plugin-react";
import { loadEnv } from "vite";
import { defineConfig } from "vitest/config";

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), "VITE_");
  const proxyTarget = env["VITE_DEV_PROXY_TARGET"] ?? "";
  return {
    plugins: [react()],
    build: {
      outDir: "dist",
      sourcemap: true,
    },
    server: {
      proxy: proxyTarget === "" ? {} : { "^/ibkr\\.v1\\.": { target: proxyTarget, changeOrigin: false } },
    },
    test: {
      environment: "happy-dom",
      include: ["src/**/*.test.{ts,tsx}"],
      setupFiles: ["src/test/setup.ts"],
      restoreMocks: true,
      testTimeout: 10_000,
    },
  };
});
