// Vitest setup: unmount what a test rendered, and start every test with empty storage.
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

// Room for a busy CI machine: waits end as soon as the condition holds.
configure({ asyncUtilTimeout: 3000 });

afterEach(() => {
  cleanup();
  window.sessionStorage.clear();
  window.localStorage.clear();
  // replaceState, not location.hash: a hashchange event would reach the next test's app.
  window.history.replaceState(null, "", window.location.pathname);
});
