/** API timestamps are unix seconds, as OpenAI's. */
export function unixSeconds(date: Date): number;
export function unixSeconds(date: Date | null): number | null;
export function unixSeconds(date: Date | null): number | null {
  return date === null ? null : Math.floor(date.getTime() / 1000);
}

/** The last second a JavaScript Date can hold (ECMA-262: 8.64e15 ms after the epoch): the bound of any timestamp a query takes. */
export const MAX_UNIX_SECONDS = 8_640_000_000_000;
