// The close-position flow a page offers: which position is being closed, the confirmation dialog
// (with what blocks trading for its account), and the notice left when the server took the order.
import type { Position } from "@ibkr-grpc/client";
import type { ReactNode } from "react";
import { useState } from "react";
import { useGatewayStatus, useTradingBlockers } from "../state/LiveData";
import { blockersForAccount } from "../trading/availability";
import { ClosePositionDialog } from "./ClosePositionDialog";

export interface ClosePositionFlow {
  /** Open the confirmation for `position` (and clear the last notice). */
  readonly start: (position: Position) => void;
  /** What the last close placed; empty when there is nothing to say. */
  readonly notice: string;
  /** The dialog while a close is being confirmed, else nothing. */
  readonly dialog: ReactNode;
}

export function useClosePosition(): ClosePositionFlow {
  const gateway = useGatewayStatus();
  const blockers = useTradingBlockers();
  const [closing, setClosing] = useState<Position | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const dialog =
    closing === undefined ? null : (
      <ClosePositionDialog
        position={closing}
        blocked={blockersForAccount(blockers, closing.account, gateway?.managedAccounts ?? []).map((blocker) => blocker.text)}
        onClose={() => {
          setClosing(undefined);
        }}
        onPlaced={(summary) => {
          setClosing(undefined);
          setNotice(summary);
        }}
      />
    );
  return {
    start: (position) => {
      setNotice("");
      setClosing(position);
    },
    notice,
    dialog,
  };
}
