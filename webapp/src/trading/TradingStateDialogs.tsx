// The admin's kill switch and its undo: HaltTrading and ResumeTrading, each with the reason the
// audit log needs, for every account or one. The server checks the role; the UI only offers.
import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import { RiskService } from "@ibkr-grpc/client";
import { useQueryClient } from "@tanstack/react-query";
import type { SyntheticEvent } from "react";
import { useRef, useState } from "react";
import { describeError } from "../api/apiError";
import { useToken } from "../api/ApiProvider";
import { readTokenClaims } from "../api/tokenClaims";
import { Dialog } from "../components/Dialog";
import { ErrorPanel } from "../components/ErrorPanel";
import { EVERY_ACCOUNT } from "./availability";

/**
 * True when the token is an admin's, or there is none and the server answered anyway (auth
 * disabled): the halt and resume buttons are offered.
 */
export function useIsAdmin(): boolean {
  const token = useToken();
  return token === "" || readTokenClaims(token)?.role === "admin";
}

export interface TradingStateDialogProps {
  readonly action: "halt" | "resume";
  /** The account the halt is for; EVERY_ACCOUNT for all of them. */
  readonly account: string;
  readonly onClose: () => void;
}

export function TradingStateDialog({ action, account, onClose }: TradingStateDialogProps) {
  const queryClient = useQueryClient();
  // The trading states polled per account (with several accounts) are read again at once; the
  // streamed one follows by itself.
  const mutationOptions = {
    onSuccess: async () => {
      onClose();
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: RiskService.method.getTradingState, cardinality: "finite" }),
      });
    },
  };
  const halt = useMutation(RiskService.method.haltTrading, mutationOptions);
  const resume = useMutation(RiskService.method.resumeTrading, mutationOptions);
  const mutation = action === "halt" ? halt : resume;
  const [reason, setReason] = useState("");
  const [cancelWorking, setCancelWorking] = useState(false);
  const error = mutation.error === null ? undefined : describeError(mutation.error);
  const reasonInput = useRef<HTMLInputElement>(null);
  const scope = account === EVERY_ACCOUNT ? "every account" : `account ${account}`;
  const title = action === "halt" ? `Halt trading for ${scope}` : `Resume trading for ${scope}`;

  function submit(event: SyntheticEvent) {
    event.preventDefault();
    if (reason.trim() === "") {
      mutation.reset();
      reasonInput.current?.focus();
      return;
    }
    if (action === "halt") {
      halt.mutate({ reason: reason.trim(), account, cancelWorkingOrders: cancelWorking });
    } else {
      resume.mutate({ reason: reason.trim(), account });
    }
  }

  return (
    <Dialog title={title} onClose={onClose} initialFocus={reasonInput} testId={`${action}-dialog`}>
      <form
        className="stack"
        onSubmit={submit}
      >
        <p className="muted">
          {action === "halt"
            ? "New orders and modifications will be refused until an admin resumes trading; cancels still work."
            : "Orders are accepted again as soon as the server confirms."}
        </p>
        <label className="stack-field">
          Reason (kept in the audit log)
          <input
            ref={reasonInput}
            required
            value={reason}
            data-testid={`${action}-reason`}
            onChange={(event) => {
              setReason(event.target.value);
            }}
          />
        </label>
        {action === "halt" && (
          <label className="check">
            <input
              type="checkbox"
              checked={cancelWorking}
              data-testid="halt-cancel-working"
              onChange={(event) => {
                setCancelWorking(event.target.checked);
              }}
            />
            Also cancel the working orders
          </label>
        )}
        {error !== undefined && <ErrorPanel error={error} testId={`${action}-error`} />}
        <div className="dialog-actions">
          <button
            type="submit"
            className={action === "halt" ? "primary sell" : "primary"}
            disabled={mutation.isPending || mutation.isSuccess || reason.trim() === ""}
            data-testid={`${action}-submit`}
          >
            {action === "halt" ? "Halt trading" : "Resume trading"}
          </button>
          <button type="button" onClick={onClose} data-testid={`${action}-cancel`}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
