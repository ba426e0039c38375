// Where the user enters the API token (a JWT). It lives in sessionStorage and goes out as
// `authorization: Bearer TOKEN` on every call; saving it restarts the streams.
import type { SyntheticEvent } from "react";
import { useState } from "react";
import { useToken, useTokenStore } from "../api/ApiProvider";

export function TokenControl() {
  const tokens = useTokenStore();
  const token = useToken();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState("");

  function save(event: SyntheticEvent) {
    event.preventDefault();
    tokens.set(draft);
    setDraft("");
    setOpen(false);
  }

  return (
    <div className="token-control">
      <button
        type="button"
        className={token === "" ? "button-quiet" : "button-quiet token-set"}
        aria-expanded={open}
        data-testid="token-toggle"
        onClick={() => {
          setOpen(!open);
        }}
      >
        {token === "" ? "API token: none" : "API token: set"}
      </button>
      {open && (
        <form className="token-form" onSubmit={save} aria-label="API token">
          <label>
            Token
            <input
              type="password"
              autoComplete="off"
              value={draft}
              placeholder="paste a JWT"
              data-testid="token-input"
              onChange={(event) => {
                setDraft(event.target.value);
              }}
            />
          </label>
          <button type="submit" data-testid="token-save">
            Save
          </button>
          <button
            type="button"
            data-testid="token-clear"
            onClick={() => {
              tokens.set("");
              setOpen(false);
            }}
          >
            Clear
          </button>
        </form>
      )}
    </div>
  );
}
