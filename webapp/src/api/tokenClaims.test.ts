import { describe, expect, it } from "vitest";
import { testJwt } from "../test/tokens";
import { readTokenClaims } from "./tokenClaims";

describe("token claims", () => {
  it("reads subject, role, accounts and expiry from a JWT's payload", () => {
    expect(readTokenClaims(testJwt({ sub: "alice", role: "admin", accounts: ["DU1"], exp: 1_700_000_000 }))).toEqual({
      subject: "alice",
      role: "admin",
      accounts: ["DU1"],
      expiresAt: 1_700_000_000_000,
    });
  });

  it("reads UTF-8 and base64url payloads", () => {
    expect(readTokenClaims(testJwt({ sub: "zoë ~?>", role: "trader" }))?.subject).toBe("zoë ~?>");
  });

  it("is undefined for what is not a JWT, and ignores unknown roles", () => {
    expect(readTokenClaims("not a token")).toBeUndefined();
    expect(readTokenClaims("a.%%%.c")).toBeUndefined();
    expect(readTokenClaims(testJwt({ role: "root" }))?.role).toBeUndefined();
  });
});
