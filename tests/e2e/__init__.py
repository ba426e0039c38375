"""End-to-end tests: the built UI in real headless Chromium, through real Envoy, the real server
and the simulated gateway."""
