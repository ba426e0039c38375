// Pages, hotkeys and the "open the order ticket with this contract" request shared by the pages.
import type { Contract } from "@ibkr-grpc/client";
import { Side } from "@ibkr-grpc/client";
import { createContext, useContext } from "react";

export const PAGES = [
  { id: "dashboard", title: "Dashboard", hotkey: "1" },
  { id: "ticket", title: "Order ticket", hotkey: "2" },
  { id: "orders", title: "Orders", hotkey: "3" },
  { id: "positions", title: "Positions", hotkey: "4" },
  { id: "watchlist", title: "Watchlist", hotkey: "5" },
  { id: "options", title: "Options", hotkey: "6" },
] as const;

export type PageId = (typeof PAGES)[number]["id"];

/** The page a location hash ("#/orders") names, or undefined. */
export function pageFromHash(hash: string): PageId | undefined {
  const id = hash.replace(/^#\/?/, "");
  return PAGES.find((page) => page.id === id)?.id;
}

/** What the ticket opens with; a new request (new `nonce`) resets the form to it. */
export interface TicketRequest {
  readonly nonce: number;
  readonly contract: Contract | undefined;
  readonly side: Side;
}

export interface Navigation {
  readonly page: PageId;
  readonly goTo: (page: PageId) => void;
  readonly openTicket: (contract?: Contract, side?: Side) => void;
  readonly ticketRequest: TicketRequest;
}

export const NavigationContext = createContext<Navigation | undefined>(undefined);

export function useNavigation(): Navigation {
  const navigation = useContext(NavigationContext);
  if (navigation === undefined) {
    throw new Error("useNavigation outside the App");
  }
  return navigation;
}

export const DEFAULT_TICKET_REQUEST: TicketRequest = { nonce: 0, contract: undefined, side: Side.BUY };

/** True when a key press belongs to a text field, not to the app's hotkeys. */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) {
    return false;
  }
  return (
    target.isContentEditable ||
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}
