/** Byte-array helpers shared by the volume and data layers (pure). */

/** Concatenate byte arrays into one new array (`total` = their summed length, when known). */
export function concatBytes(parts: Uint8Array[], total?: number): Uint8Array {
  const size = total ?? parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Read a whole stream into one array. Each piece is copied as it arrives, because a producer may
 * reuse its buffer (Node streams do); `signal` is checked between pieces.
 */
export async function collectBytes(
  body: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const piece of body) {
    signal?.throwIfAborted();
    parts.push(Uint8Array.prototype.slice.call(piece));
    size += piece.byteLength;
  }
  return concatBytes(parts, size);
}
