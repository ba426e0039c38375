// The browser end-to-end run (`npm run test:e2e`): webapp/e2e/*.e2e.ts drive the built UI in real
// headless Chromium through playwright-core. They need a running stack (Envoy serving
// webapp/dist in front of the server and the simulator), which tests/e2e (pytest) starts and
// passes in E2E_BASE_URL, E2E_TOKEN and E2E_ARTIFACTS. The unit tests (vite.config.ts) never
// include these files.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["e2e/**/*.e2e.ts"],
    // One browser, one story: steps depend on each other, so nothing runs in parallel.
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 30_000,
    // expect.poll waits up to this long (the default, 1 s, is too short for a busy CI machine);
    // each wait ends as soon as its condition holds.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    // A failed step is reported once, with the screenshot of where it stopped.
    retry: 0,
  },
});
