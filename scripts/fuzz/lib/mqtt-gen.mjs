// Structure-aware MQTT input: a valid client-to-server packet of MQTT 3.1, 3.1.1 or 5.0 (with
// properties) built as a list of typed fields, then mutated at field level (duplicate or foreign
// properties, ill-formed UTF-8, lying length prefixes, packet id 0, flag flips), then serialised.
// Mutations that make the packet malformed by the letter of the spec set `malformed` with the
// clause, so the driver can count what the decoder accepted anyway.

// Property id -> wire type (MQTT 5 2.2.2.2).
const PROP_TYPE = {
  0x01: 'u8', 0x02: 'u32', 0x03: 'str', 0x08: 'str', 0x09: 'bin', 0x0b: 'vbi', 0x11: 'u32', 0x12: 'str',
  0x13: 'u16', 0x15: 'str', 0x16: 'bin', 0x17: 'u8', 0x18: 'u32', 0x19: 'u8', 0x1a: 'str', 0x1c: 'str',
  0x1f: 'str', 0x21: 'u16', 0x22: 'u16', 0x23: 'u16', 0x24: 'u8', 0x25: 'u8', 0x26: 'pair', 0x27: 'u32',
  0x28: 'u8', 0x29: 'u8', 0x2a: 'u8',
};
// Properties a client may send per packet (MQTT 5 table 2-4); AUTH methods are left out of CONNECT
// so the generated CONNECT is accepted and later packets reach the broker.
const ALLOWED = {
  connect: [0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26],
  will: [0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26],
  publish: [0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x03],
  subscribe: [0x0b, 0x26],
  unsubscribe: [0x26],
  ack: [0x1f, 0x26],
  disconnect: [0x11, 0x1f, 0x26],
  auth: [0x15, 0x16, 0x1f, 0x26],
};
const REPEATABLE = new Set([0x26]);

// Ill-formed UTF-8 or code points MQTT forbids (1.5.4): overlong NUL, lone surrogate, 0xFF, U+0000.
const BAD_UTF8 = [Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff]), Buffer.from([0x61, 0x00, 0x62]), Buffer.from([0xe2, 0x82])];

const str = (s) => ({ t: 'str', v: Buffer.from(s, 'utf8') });

function propValue(rng, id) {
  switch (PROP_TYPE[id]) {
    case 'u8':
      return id === 0x01 ? rng.int(2) : rng.int(2);
    case 'u16':
      return 1 + rng.int(0xfffe);
    case 'u32':
      return rng.int(100_000);
    case 'vbi':
      return 1 + rng.int(1000);
    case 'str':
      return Buffer.from(id === 0x08 ? `r/${rng.word()}` : rng.word(12));
    case 'bin':
      return rng.bytes(rng.int(16));
    case 'pair':
      return [Buffer.from(rng.word()), Buffer.from(rng.word())];
  }
}

function genProps(rng, kind) {
  const list = [];
  for (const id of ALLOWED[kind]) {
    if (!rng.bool(0.35)) continue;
    // Topic alias on PUBLISH stays under the broker's default limit; Receive Max / Max Packet Size > 0.
    list.push({ id, v: id === 0x23 ? 1 + rng.int(10) : propValue(rng, id) });
    if (id === 0x26 && rng.bool(0.3)) list.push({ id, v: propValue(rng, id) });
  }
  return { t: 'props', list, lenAdj: 0 };
}

function topic(rng) {
  const n = 1 + rng.int(4);
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(rng.word(6));
  return parts.join('/');
}

function filter(rng) {
  const t = topic(rng).split('/');
  if (rng.bool(0.3)) t[rng.int(t.length)] = '+';
  if (rng.bool(0.2)) t[t.length - 1] = '#';
  return t.join('/');
}

/** A valid packet as { type, flags, parts, pidAt? , kind } for protocol level `v`. */
export function genPacket(rng, v, type) {
  const v5 = v === 5;
  const parts = [];
  let flags = 0;
  let kind = '';
  let pidAt = -1;
  switch (type) {
    case 1: {
      kind = 'connect';
      const will = rng.bool(0.3);
      const user = rng.bool(0.4);
      const pass = user && rng.bool(0.6);
      const willQos = will ? rng.int(3) : 0;
      const cflags = (user ? 0x80 : 0) | (pass ? 0x40 : 0) | (will && rng.bool(0.3) ? 0x20 : 0) | (willQos << 3) | (will ? 0x04 : 0) | (rng.bool(0.7) ? 0x02 : 0);
      parts.push(str(v === 3 ? 'MQIsdp' : 'MQTT'), { t: 'u8', v }, { t: 'u8', v: cflags, isConnectFlags: true }, { t: 'u16', v: rng.int(120) });
      if (v5) parts.push(genProps(rng, 'connect'));
      parts.push(str(v === 3 ? `c${rng.word(20)}`.slice(0, 23) : rng.bool(0.1) ? '' : `c-${rng.word(16)}`));
      if (will) {
        if (v5) parts.push(genProps(rng, 'will'));
        parts.push(str(topic(rng)), { t: 'bin', v: rng.bytes(rng.int(32)) });
      }
      if (user) parts.push(str(rng.word(10)));
      if (pass) parts.push({ t: 'bin', v: rng.bytes(rng.int(16)) });
      break;
    }
    case 3: {
      kind = 'publish';
      const qos = rng.int(3);
      flags = (qos << 1) | (rng.bool(0.2) ? 1 : 0) | (qos > 0 && rng.bool(0.2) ? 8 : 0);
      parts.push(str(topic(rng)));
      if (qos > 0) {
        pidAt = parts.length;
        parts.push({ t: 'u16', v: 1 + rng.int(0xfffe) });
      }
      if (v5) parts.push(genProps(rng, 'publish'));
      parts.push({ t: 'raw', v: rng.bytes(rng.int(64)) });
      break;
    }
    case 4:
    case 5:
    case 6:
    case 7: {
      kind = 'ack';
      flags = type === 6 ? 2 : 0;
      pidAt = 0;
      parts.push({ t: 'u16', v: 1 + rng.int(0xfffe) });
      if (v5 && rng.bool(0.5)) {
        parts.push({ t: 'u8', v: rng.pick([0, 0x10, 0x80, 0x92]) });
        if (rng.bool(0.5)) parts.push(genProps(rng, 'ack'));
      }
      break;
    }
    case 8:
    case 10: {
      kind = type === 8 ? 'subscribe' : 'unsubscribe';
      flags = 2;
      pidAt = 0;
      parts.push({ t: 'u16', v: 1 + rng.int(0xfffe) });
      if (v5) parts.push(genProps(rng, kind));
      const n = 1 + rng.int(4);
      for (let i = 0; i < n; i++) {
        parts.push(str(filter(rng)));
        if (type === 8) parts.push({ t: 'u8', v: v5 ? rng.int(3) | (rng.int(2) << 2) | (rng.int(2) << 3) | (rng.int(3) << 4) : rng.int(3) });
      }
      break;
    }
    case 12:
      kind = 'pingreq';
      break;
    case 14:
      kind = 'disconnect';
      if (v5 && rng.bool(0.5)) {
        parts.push({ t: 'u8', v: rng.pick([0, 4]) });
        if (rng.bool(0.5)) parts.push(genProps(rng, 'disconnect'));
      }
      break;
    case 15:
      kind = 'auth';
      parts.push({ t: 'u8', v: rng.pick([0, 0x18, 0x19]) }, genProps(rng, 'auth'));
      break;
  }
  return { type, flags, parts, pidAt, kind, v, remAdj: 0, remRaw: null };
}

function vbi(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0 && out.length < 8);
  return Buffer.from(out);
}

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

function encProp(p) {
  const id = Buffer.from([p.id]);
  const t = PROP_TYPE[p.id] ?? 'u8';
  switch (t) {
    case 'u8':
      return Buffer.concat([id, Buffer.from([p.v & 0xff])]);
    case 'u16':
      return Buffer.concat([id, u16(p.v)]);
    case 'u32': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(p.v >>> 0);
      return Buffer.concat([id, b]);
    }
    case 'vbi':
      return Buffer.concat([id, vbi(p.v)]);
    case 'str':
    case 'bin':
      return Buffer.concat([id, u16(p.v.length), p.v]);
    case 'pair':
      return Buffer.concat([id, u16(p.v[0].length), p.v[0], u16(p.v[1].length), p.v[1]]);
  }
}

function encPart(p) {
  switch (p.t) {
    case 'u8':
      return Buffer.from([p.v & 0xff]);
    case 'u16':
      return u16(p.v);
    case 'str':
    case 'bin':
      return Buffer.concat([u16(p.v.length + (p.lenAdj ?? 0)), p.v]);
    case 'raw':
      return p.v;
    case 'props': {
      const body = Buffer.concat(p.list.map(encProp));
      return Buffer.concat([vbi(Math.max(0, body.length + p.lenAdj)), body]);
    }
  }
}

export function serialise(pk) {
  const body = Buffer.concat(pk.parts.map(encPart));
  const rem = pk.remRaw ?? vbi(Math.max(0, body.length + pk.remAdj));
  return Buffer.concat([Buffer.from([(pk.type << 4) | (pk.flags & 15)]), rem, body]);
}

export const STRUCT_MUTATIONS = [
  'dup_prop', 'foreign_prop', 'bad_utf8', 'str_len', 'pid0', 'header_flags', 'connect_flags', 'rem_len',
  'prop_len', 'prop_value', 'empty_list', 'level', 'huge_string',
];

/**
 * Mutate one field of `pk` in place. Returns { name, malformed } where malformed names the clause
 * that makes the result a packet the server must refuse, or null when the result may be legal.
 */
export function mutatePacket(rng, pk, not = null) {
  let name = rng.pick(STRUCT_MUTATIONS);
  if (name === not) name = STRUCT_MUTATIONS[(STRUCT_MUTATIONS.indexOf(name) + 1) % STRUCT_MUTATIONS.length];
  const props = pk.parts.filter((p) => p.t === 'props');
  const strs = pk.parts.filter((p) => p.t === 'str');
  switch (name) {
    case 'dup_prop': {
      const cands = props.flatMap((p) => p.list.filter((x) => !REPEATABLE.has(x.id)).map((x) => [p, x]));
      if (!cands.length) break;
      const [p, x] = rng.pick(cands);
      p.list.splice(rng.int(p.list.length + 1), 0, { id: x.id, v: x.v });
      return { name, malformed: 'MQTT5-2.2.2.2 property repeated' };
    }
    case 'foreign_prop': {
      if (!props.length) break;
      const p = rng.pick(props);
      const id = rng.bool(0.5) ? rng.pick(Object.keys(PROP_TYPE).map(Number)) : rng.pick([0x00, 0x04, 0x2b, 0x7f, 0x80]);
      if (!(id in PROP_TYPE)) {
        p.list.push({ id, v: 0 });
        return { name, malformed: 'MQTT5-2.2.2.2 unknown property id' };
      }
      p.list.push({ id, v: propValue(rng, id) });
      return { name, malformed: null };
    }
    case 'bad_utf8': {
      if (!strs.length) break;
      const s = rng.pick(strs);
      if (s === pk.parts[0] && pk.kind === 'connect') break;
      const bad = rng.pick(BAD_UTF8);
      const at = rng.int(s.v.length + 1);
      s.v = Buffer.concat([s.v.subarray(0, at), bad, s.v.subarray(at)]);
      return { name, malformed: 'MQTT-1.5.4-1 ill-formed UTF-8' };
    }
    case 'str_len': {
      const all = pk.parts.filter((p) => p.t === 'str' || p.t === 'bin');
      if (!all.length) break;
      rng.pick(all).lenAdj = rng.pick([-2, -1, 1, 2, 200, 0x7fff]);
      return { name, malformed: null };
    }
    case 'pid0': {
      if (pk.pidAt < 0) break;
      pk.parts[pk.pidAt].v = 0;
      // Acks with id 0 are refused by the session (no such id), not as malformed.
      return { name, malformed: pk.kind === 'ack' ? null : 'MQTT-2.2.1-3 packet identifier 0' };
    }
    case 'header_flags': {
      const bit = 1 << rng.int(4);
      pk.flags ^= bit;
      if (pk.type === 3) return { name, malformed: ((pk.flags >> 1) & 3) === 3 ? 'MQTT-3.3.1-4 QoS 3' : null };
      return { name, malformed: 'MQTT-2.1.3-1 reserved flags' };
    }
    case 'connect_flags': {
      const cf = pk.parts.find((p) => p.isConnectFlags);
      if (!cf) break;
      const bit = 1 << rng.int(8);
      cf.v ^= bit;
      // v5 allows a password without a user name (3.1.2.9); 3.1.1 does not [MQTT-3.1.2-22].
      return { name, malformed: bit === 1 ? 'MQTT-3.1.2-3 reserved connect flag' : bit >= 0x40 && pk.v < 5 ? 'MQTT-3.1.2-18..22 user/password flag' : null };
    }
    case 'rem_len': {
      const r = rng.int(4);
      if (r === 0) pk.remAdj = rng.pick([-3, -1, 1, 5, 1000]);
      else if (r === 1) pk.remRaw = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]);
      else if (r === 2) pk.remRaw = Buffer.from([0xff, 0xff, 0xff, 0x7f]);
      else pk.remAdj = 0x7fffff;
      return { name, malformed: null };
    }
    case 'prop_len': {
      if (!props.length) break;
      rng.pick(props).lenAdj = rng.pick([-2, -1, 1, 3, 10000]);
      return { name, malformed: null };
    }
    case 'prop_value': {
      const all = props.flatMap((p) => p.list);
      if (!all.length) break;
      const x = rng.pick(all);
      const t = PROP_TYPE[x.id];
      if (t === 'u8') x.v = rng.pick([2, 3, 0xff]);
      else if (t === 'u16' || t === 'u32' || t === 'vbi') x.v = rng.pick([0, 0xffff, 0xffffffff, 268435456]);
      else if (t === 'str') x.v = Buffer.concat([x.v, rng.pick(BAD_UTF8)]);
      return { name, malformed: null };
    }
    case 'empty_list': {
      if (pk.kind !== 'subscribe' && pk.kind !== 'unsubscribe') break;
      const first = pk.parts.findIndex((p) => p.t === 'str');
      if (first < 0) break;
      pk.parts.length = first;
      return { name, malformed: 'MQTT-3.8.3-3/3.10.3-2 no topic filter' };
    }
    case 'level': {
      if (pk.kind !== 'connect') break;
      pk.parts[1].v = rng.pick([0, 2, 3, 4, 5, 6, 0x83, 0xff]);
      return { name, malformed: null };
    }
    case 'huge_string': {
      if (!strs.length) break;
      rng.pick(strs).v = Buffer.alloc(1000 + rng.int(60_000), 0x61);
      return { name, malformed: null };
    }
  }
  // The picked mutation did not apply to this packet type: make the remaining length lie instead.
  pk.remAdj = rng.pick([-1, 1]);
  return { name: 'rem_len_fallback', malformed: null };
}

const CLIENT_TYPES = [1, 3, 3, 3, 4, 5, 6, 7, 8, 8, 10, 12, 14];

/** A packet type a client sends (AUTH only in v5). */
export function pickType(rng, v) {
  return v === 5 && rng.bool(0.05) ? 15 : rng.pick(CLIENT_TYPES);
}
