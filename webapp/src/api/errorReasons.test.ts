import { Code } from "@connectrpc/connect";
import { ErrorReason } from "@ibkr-grpc/client";
import { describe, expect, it } from "vitest";
import { enumMembers } from "../test/enumMembers";
import type { ApiError } from "./apiError";
import { errorSummary, reasonOf } from "./errorReasons";

function apiError(reason: string, message: string, metadata: Record<string, string> = {}): ApiError {
  return {
    code: Code.FailedPrecondition,
    codeName: "failed_precondition",
    reason,
    message,
    metadata,
    fieldViolations: [],
    violations: [],
    retryDelayMs: undefined,
    requestId: "",
  };
}

describe("error reasons", () => {
  it("has words for every reason of the catalogue", () => {
    const reasons = enumMembers<ErrorReason>(ErrorReason);
    expect(reasons).toContain(ErrorReason.IB_COMMAND_REFUSED);
    expect(reasons).toContain(ErrorReason.TRADING_MODE_MISMATCH);
    for (const reason of reasons) {
      const name = ErrorReason[reason];
      expect(reasonOf(apiError(name, "")), name).toBe(reason);
      expect(errorSummary(apiError(name, "")), name).not.toBe("");
    }
  });

  it("says nothing of a reason it does not know, or of none", () => {
    expect(reasonOf(apiError("SOMETHING_NEW", "x"))).toBeUndefined();
    expect(errorSummary(apiError("SOMETHING_NEW", "x"))).toBe("");
    expect(errorSummary(apiError("", "x"))).toBe("");
  });

  it("names the refused command, IB's code and message, and that the order is unchanged", () => {
    const refused = apiError("IB_COMMAND_REFUSED", "Cannot change the order type", { ib_error_code: "10147", order_id: "ord_W" });
    expect(errorSummary(refused, "modify")).toBe(
      "IB refused the modification (code 10147): Cannot change the order type; the order is unchanged.",
    );
    expect(errorSummary(refused, "cancel")).toBe(
      "IB refused the cancel (code 10147): Cannot change the order type; the order is unchanged.",
    );
    expect(errorSummary(apiError("IB_COMMAND_REFUSED", "no code"), "cancel")).toBe(
      "IB refused the cancel: no code; the order is unchanged.",
    );
  });

  it("explains a trading-mode mismatch", () => {
    expect(errorSummary(apiError("TRADING_MODE_MISMATCH", "live accounts on a paper server"), "place")).toContain(
      "paper/live",
    );
  });
});
