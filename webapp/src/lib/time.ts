// Timestamps for display, in the browser's time zone.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";

export function formatTime(timestamp: Timestamp | undefined): string {
  if (timestamp === undefined) {
    return "";
  }
  return timestampDate(timestamp).toLocaleTimeString(undefined, { hour12: false });
}

export function formatDateTime(timestamp: Timestamp | undefined): string {
  if (timestamp === undefined) {
    return "";
  }
  const date = timestampDate(timestamp);
  return `${date.toLocaleDateString()} ${date.toLocaleTimeString(undefined, { hour12: false })}`;
}
