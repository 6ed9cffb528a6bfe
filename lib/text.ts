/**
 * Text that every reader can take: JavaScript strings may hold lone UTF-16 surrogates, which have
 * no UTF-8 form; written as they are, they become U+FFFD in one place and a `\udXXX` escape that
 * DuckDB's and StarRocks' JSON parsers refuse in another. Events holding one are refused
 * (`invalid_text`); what Tally writes of a refused event (a bad row) is made well-formed here.
 */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

/** The length in Unicode characters (code points), as limits are stated; `length` counts UTF-16 units. */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** At most `max` characters (code points) of `text`, never cutting a surrogate pair in half. */
export function truncateCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;
  let units = 0;
  for (let n = 0; n < max && units < text.length; n++) {
    const c = text.charCodeAt(units);
    const d = text.charCodeAt(units + 1);
    units += c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
  }
  return text.slice(0, units);
}
