// Plain byte mutations on a valid input: flips, inserts, deletes, truncation, splices of
// interesting values. Structure-blind on purpose: they find what the structure-aware ones assume.

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0xc0, 0xed, 0xf4, 0xf8];

export const BYTE_MUTATIONS = ['flip', 'set', 'insert', 'delete', 'truncate', 'duplicate', 'extend'];

/** One to four byte-level mutations of `buf`; returns a new Buffer and the names applied. */
export function mutateBytes(rng, buf) {
  let b = Buffer.from(buf);
  const n = 1 + rng.int(4);
  const applied = [];
  for (let k = 0; k < n; k++) {
    const m = rng.pick(BYTE_MUTATIONS);
    applied.push(m);
    const at = rng.int(b.length + 1);
    switch (m) {
      case 'flip':
        if (b.length) b[at % b.length] ^= 1 << rng.int(8);
        break;
      case 'set':
        if (b.length) b[at % b.length] = rng.bool() ? rng.pick(INTERESTING) : rng.int(256);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(4)), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(4)))]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'duplicate': {
        const end = Math.min(b.length, at + 1 + rng.int(16));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
        break;
      }
      case 'extend':
        b = Buffer.concat([b, rng.bytes(1 + rng.int(32))]);
        break;
    }
  }
  return { bytes: b, applied };
}
