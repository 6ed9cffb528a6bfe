/**
 * JSON numbers that `JSON.parse` cannot keep: a double holds 15-17 significant digits, so a
 * token such as `12345678901234567890` or `0.123456789012345678` reads as a nearby number and
 * would be stored changed without notice. Such tokens are found in the body text (the parsed
 * value no longer knows its digits) and the events holding them are refused. A token is exact
 * when its value is the double's own shortest text (`1e300`, `9007199254740993` is not).
 *
 * The body scan (`layout.ts`) applies `inexactToken` to every token with an exponent or of 16
 * characters or more (no shorter plain decimal can be inexact); `findInexactNumbers` is the
 * same rule over a text that scan gave up on, token by token.
 */

/** Where inexact numbers sit: batch element indexes, or `top` for the body itself (a single event, or the batch envelope). */
export interface InexactNumbers {
  /** Index in `batch` -> the first inexact token found in that event. */
  events: Map<number, string>;
  /** A token outside `batch` (a single-event body, or the batch's own fields such as its context). */
  top: string | null;
}

/** Sign, significant digits and exponent of a decimal number's text: equal for equal values. */
function canonical(token: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(token);
  if (!m) return token;
  const digits = `${m[2]}${m[3] ?? ''}`;
  let exponent = Number(m[4] ?? 0) + m[2]!.length;
  const lead = digits.length - digits.replace(/^0+/, '').length;
  exponent -= lead;
  const significant = digits.slice(lead).replace(/0+$/, '');
  return significant === '' ? '0' : `${m[1]}${significant}e${exponent}`;
}

/** True when the token's value is the double's shortest text, i.e. nothing was rounded away. */
function exact(token: string): boolean {
  const value = Number(token);
  return Number.isFinite(value) && canonical(token) === canonical(String(value).replace('e+', 'e'));
}

/**
 * True when a JSON number token reads as a different finite number: more digits than a double
 * keeps, or too small for one (`1e-400` reads as 0). One that reads as infinity is the
 * validator's to refuse, with its own message.
 */
export function inexactToken(token: string): boolean {
  return Number.isFinite(Number(token)) && !exact(token);
}

/**
 * Finds inexact number tokens in a JSON text that already parsed. Strings are skipped; the
 * position in the structure is tracked only as far as "which element of the top-level `batch`".
 */
export function findInexactNumbers(text: string): InexactNumbers | null {
  const found: InexactNumbers = { events: new Map(), top: null };
  const stack: string[] = [];
  let lastKey: string | null = null;
  let batchDepth = -1;
  let index = 0;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (stack.length === 1 && stack[0] === '{') lastKey = text.slice(i + 1, j);
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push(c);
      if (c === '[' && stack.length === 2 && stack[0] === '{' && lastKey === 'batch') {
        batchDepth = 2;
        index = 0;
      }
    } else if (c === '}' || c === ']') {
      if (stack.length === batchDepth && c === ']') batchDepth = -1;
      stack.pop();
    } else if (c === ',' && batchDepth !== -1 && stack.length === batchDepth) {
      index++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
      const token = text.slice(i, j);
      if (inexactToken(token)) {
        any = true;
        if (batchDepth !== -1 && stack.length >= batchDepth) {
          if (!found.events.has(index)) found.events.set(index, token);
        } else found.top ??= token;
      }
      i = j - 1;
    }
  }
  return any ? found : null;
}
