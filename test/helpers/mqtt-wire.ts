// Builders for exact MQTT bytes (varints, length-prefixed strings, property blocks, whole packets), for
// tests that must send what a client library would refuse to: malformed or edge-case frames.

export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

export function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Length-prefixed string; a Buffer is taken as the exact (possibly ill-formed) bytes. */
export function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u16(b.length), b]);
}

/** A v5 property block: its varint length, then the given property bytes. */
export function props(...parts: (Buffer | number[])[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  return Buffer.concat([varint(body.length), body]);
}

/** A whole packet: first byte (type << 4 | flags) and the body, with the Remaining Length between. */
export function packet(first: number, ...body: (Buffer | number[])[]): Buffer {
  const b = Buffer.concat(body.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  return Buffer.concat([Buffer.from([first]), varint(b.length), b]);
}
