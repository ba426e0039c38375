// Unsigned JWTs for tests: the UI only reads the claims (the server verifies the signature).

function base64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function testJwt(claims: Record<string, unknown>): string {
  return `${base64Url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64Url(JSON.stringify(claims))}.signature`;
}

export const ADMIN_TOKEN = testJwt({ sub: "alice", role: "admin" });
export const TRADER_TOKEN = testJwt({ sub: "bob", role: "trader" });
