// What the UI may read from the API token without verifying it (only the server does): who it
// names and its role, to offer admin actions such as resuming trading. The server still decides.

export type TokenRole = "viewer" | "trader" | "admin";

export interface TokenClaims {
  readonly subject: string;
  readonly role: TokenRole | undefined;
  /** The accounts an account-scoped token is limited to; empty when unscoped. */
  readonly accounts: readonly string[];
  /** Expiry (epoch ms), when the token says. */
  readonly expiresAt: number | undefined;
}

function decodeSegment(segment: string): unknown {
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "=");
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (character) => character.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The claims of a JWT, or undefined when `token` is not one. */
export function readTokenClaims(token: string): TokenClaims | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined || payload === "") {
    return undefined;
  }
  let claims: unknown;
  try {
    claims = decodeSegment(payload);
  } catch {
    return undefined;
  }
  if (typeof claims !== "object" || claims === null) {
    return undefined;
  }
  const record = claims as Record<string, unknown>;
  const role = record["role"];
  const accounts = record["accounts"];
  const expiry = record["exp"];
  return {
    subject: typeof record["sub"] === "string" ? record["sub"] : "",
    role: role === "viewer" || role === "trader" || role === "admin" ? role : undefined,
    accounts: Array.isArray(accounts) ? accounts.filter((account): account is string => typeof account === "string") : [],
    expiresAt: typeof expiry === "number" ? expiry * 1000 : undefined,
  };
}
