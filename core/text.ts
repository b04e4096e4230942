/**
 * Text helpers shared by every layer (pure): UTF-8 length, UTF-8 byte order, well-formedness.
 * DynamoDB, SQLite (BINARY) and the object stores measure and order keys by their UTF-8 bytes;
 * JavaScript strings are UTF-16, so these helpers bridge the two without encoding.
 */

/**
 * Bytes of `text` in UTF-8, without encoding it. A lone surrogate counts as the 3 bytes of
 * U+FFFD (what `TextEncoder` writes for it), so the result equals
 * `new TextEncoder().encode(text).length` for every string.
 */
export function utf8Length(text: string): number {
  // Fast path: the ASCII prefix (all of most keys) is one byte a unit.
  let i = 0;
  while (i < text.length && text.charCodeAt(i) < 0x80) i++;
  let bytes = i;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Compare strings in UTF-8 byte order (= code point order), DynamoDB's and SQLite's BINARY
 * order. JavaScript's `<` compares UTF-16 code units, which disagrees for astral characters
 * against U+E000–U+FFFF. Defined for well-formed strings (the only ones keys may be).
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800–DFFF) encode code points above FFFF: they sort after E000–FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? (y >= 0xe000 ? 1 : x - y) : x >= 0xe000 ? -1 : x - y;
    return x - y;
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * True when `text` is valid Unicode: no lone UTF-16 surrogate, which has no UTF-8 form (DynamoDB
 * stores UTF-8; each backend would keep such a string differently).
 */
export function wellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
