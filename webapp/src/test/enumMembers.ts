// The members of a generated TypeScript enum except UNSPECIFIED (0), typed as the enum, for
// tests that check every value of the contract has its words.
export function enumMembers<Enum extends number>(enumObject: Readonly<Record<string, string | Enum>>): Enum[] {
  return Object.values(enumObject).filter((value): value is Enum => typeof value === "number" && value !== 0);
}
