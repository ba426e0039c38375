// The first screen without a usable API token: what the token is, where the demo printed one,
// how to mint one, and a field to paste it. Shown instead of the pages until the server answers.
import type { SyntheticEvent } from "react";
import { useState } from "react";
import type { ApiError } from "../api/apiError";
import { useTokenStore } from "../api/ApiProvider";

export interface OnboardingProps {
  /** The server's refusal of the token in use, when one is set. */
  readonly refusal: ApiError | undefined;
  readonly hasToken: boolean;
}

export function Onboarding({ refusal, hasToken }: OnboardingProps) {
  const tokens = useTokenStore();
  const [draft, setDraft] = useState("");

  function save(event: SyntheticEvent) {
    event.preventDefault();
    if (draft.trim() !== "") {
      tokens.set(draft);
      setDraft("");
    }
  }

  return (
    <section className="panel onboarding" aria-label="Connect" data-testid="onboarding">
      <h2>{hasToken ? "The server refused this API token" : "Paste an API token to start"}</h2>
      {hasToken && refusal !== undefined && (
        <p className="field-error" data-testid="onboarding-refusal">
          {refusal.message === "" ? refusal.codeName : refusal.message}. It may have expired or been minted for
          another server: paste a new one.
        </p>
      )}
      <p>
        The gateway only talks to holders of a token (a JWT). It stays in this browser tab only
        (sessionStorage) and is sent with every request.
      </p>
      <ol className="onboarding-steps">
        <li>
          Running <code>ibkr-grpc demo</code>? Its start-up banner in the terminal prints a token for this run
          (after <code>export TOKEN=</code>): copy it.
        </li>
        <li>
          Otherwise mint one where the server&apos;s settings are (the same <code>JWT_SECRET</code>):{" "}
          <code>ibkr-grpc token --role trader --subject you</code> (<code>--role admin</code> to halt and resume
          trading, <code>--ttl 8h</code> for its lifetime).
        </li>
      </ol>
      <form className="onboarding-form" onSubmit={save} aria-label="API token">
        <input
          type="password"
          autoComplete="off"
          value={draft}
          placeholder="eyJhbGciOi…"
          aria-label="API token"
          data-testid="onboarding-token-input"
          onChange={(event) => {
            setDraft(event.target.value);
          }}
        />
        <button type="submit" className="primary" disabled={draft.trim() === ""} data-testid="onboarding-token-save">
          Connect
        </button>
      </form>
    </section>
  );
}
