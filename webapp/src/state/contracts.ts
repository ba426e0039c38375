// Identity and display of contracts across the UI (watchlist rows, quotes, positions).
import type { Contract } from "@ibkr-grpc/client";
import { OptionRight, SecurityType, SecurityTypeSchema } from "@ibkr-grpc/client";
import { enumName } from "../lib/enums";

/** IB's contract id when known, else the description that identifies it. */
export function contractKey(contract: Contract): string {
  if (contract.conId !== 0n) {
    return `id:${contract.conId.toString()}`;
  }
  return [
    contract.symbol.toUpperCase(),
    enumName(SecurityTypeSchema, contract.securityType),
    contract.currency.toUpperCase(),
    contract.lastTradeDateOrContractMonth,
    contract.strike,
    contract.right,
  ].join("/");
}

/** True when a contract the server sent back (e.g. on a quote) is the one we asked about. */
export function sameContract(asked: Contract, received: Contract): boolean {
  if (asked.conId !== 0n && received.conId !== 0n) {
    return asked.conId === received.conId;
  }
  const askedType = asked.securityType === SecurityType.UNSPECIFIED ? SecurityType.STOCK : asked.securityType;
  const receivedType =
    received.securityType === SecurityType.UNSPECIFIED ? SecurityType.STOCK : received.securityType;
  return (
    asked.symbol.toUpperCase() === received.symbol.toUpperCase() &&
    askedType === receivedType &&
    (asked.currency === "" || received.currency === "" || asked.currency === received.currency) &&
    asked.lastTradeDateOrContractMonth === received.lastTradeDateOrContractMonth &&
    asked.strike === received.strike &&
    asked.right === received.right
  );
}

/** "AAPL", "EUR.USD", "ES 202612", "AAPL 20261218 200 C". */
export function contractLabel(contract: Contract): string {
  if (contract.localSymbol !== "" && contract.securityType === SecurityType.FOREX) {
    return contract.localSymbol;
  }
  const parts = [contract.symbol];
  if (contract.lastTradeDateOrContractMonth !== "") {
    parts.push(contract.lastTradeDateOrContractMonth);
  }
  if (contract.strike !== "") {
    parts.push(contract.strike);
  }
  if (contract.right !== OptionRight.UNSPECIFIED) {
    parts.push(contract.right === OptionRight.CALL ? "C" : "P");
  }
  return parts.join(" ");
}
