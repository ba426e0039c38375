// Display names for the API's enums. Servers may add values within v1: an unknown number shows as
// "UNKNOWN (n)" and is treated like UNSPECIFIED, never a crash.
import type { DescEnum } from "@bufbuild/protobuf";
import type { GenEnum } from "@bufbuild/protobuf/codegenv2";

/** The value's name without the enum's shared prefix: ORDER_TYPE_STOP_LIMIT -> "STOP_LIMIT". */
export function enumName(schema: DescEnum, value: number): string {
  const known = schema.value[value];
  if (known === undefined) {
    return `UNKNOWN (${value})`;
  }
  return known.localName;
}

/** Like enumName, with underscores as spaces: "STOP LIMIT". */
export function enumLabel(schema: DescEnum, value: number): string {
  return enumName(schema, value).replace(/_/g, " ");
}

/** Every value of the enum except the zero UNSPECIFIED value, in declaration order. */
export function specifiedValues(schema: DescEnum): number[] {
  return schema.values.map((value) => value.number).filter((value) => value !== 0);
}

/** True when `value` is one the client knows and is not UNSPECIFIED. */
export function isKnownValue(schema: DescEnum, value: number): boolean {
  return value !== 0 && schema.value[value] !== undefined;
}

/** The enum value a <select> holds as text; UNSPECIFIED (0) for anything the enum does not know. */
export function enumFromText<Value extends number>(schema: GenEnum<Value>, text: string): Value {
  const number = Number.parseInt(text, 10);
  return (isKnownValue(schema, number) ? number : 0) as Value;
}
