// Seeded randomness: every input is a pure function of (codec, seed, index), so one failing input is
// replayed from those three numbers alone (no corpus files to keep).

/** 32-bit mix of the seed and the input index (splitmix-style). */
export function inputSeed(seed, index) {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (index >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ Math.floor(index / 0x100000000), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32: small, fast, good enough to pick mutations. */
export class Rng {
  constructor(seed) {
    this.s = seed >>> 0;
  }
  u32() {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n) {
    return n <= 0 ? 0 : this.u32() % n;
  }
  bool(p = 0.5) {
    return this.u32() / 0x100000000 < p;
  }
  pick(arr) {
    return arr[this.int(arr.length)];
  }
  bytes(n) {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  /** A short printable string (topic levels, client ids). */
  word(max = 8) {
    const n = 1 + this.int(max);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(97 + this.int(26));
    return s;
  }
}
