import { Code, ConnectError } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { describeError } from "../api/apiError";
import { INITIAL_HEALTH } from "./resilientStream";
import { streamStatusText } from "./StreamStatusLine";

it("says how a page's own stream is doing", () => {
  const status = { health: INITIAL_HEALTH, paused: false, pauseDetail: "" };
  expect(streamStatusText("waiting").text).toBe("Waiting for a connection…");
  expect(streamStatusText(status)).toEqual({ text: "Connecting…", tone: "warning" });
  expect(streamStatusText({ ...status, health: { ...INITIAL_HEALTH, phase: "live" } })).toEqual({ text: "Live", tone: "ok" });
  const refused = describeError(new ConnectError("depth on 3 contracts at most", Code.ResourceExhausted));
  expect(
    streamStatusText({
      ...status,
      health: { phase: "reconnecting", attempt: 2, lastError: refused, retryAt: 0 },
    }),
  ).toEqual({ text: "Reconnecting (attempt 2): resource_exhausted depth on 3 contracts at most", tone: "error" });
  expect(streamStatusText({ ...status, paused: true, pauseDetail: "1100" }).text).toBe(
    "Stale: IB Gateway disconnected (1100)",
  );
});
