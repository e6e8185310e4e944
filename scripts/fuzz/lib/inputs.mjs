// One fuzz input per (codec, seed, index): a valid message, mutated structure-aware (MQTT) and/or
// byte-wise. Pure: replaying (codec, seed, index) gives the same bytes.
import { mutateBytes } from './bytes.mjs';
import { genPacket, mutatePacket, pickType, serialise } from './mqtt-gen.mjs';
import { inputSeed, Rng } from './rng.mjs';

// New codecs go at the end: a codec's index seeds its inputs, so earlier replays stay valid.
export const CODECS = ['mqtt', 'coap', 'mqttsn', 'stomp'];

/** { bytes, v (MQTT level), how, malformed }: bytes is one MQTT stream chunk or one datagram. */
export function makeInput(codecs, codec, seed, index) {
  const rng = new Rng(inputSeed(seed ^ (CODECS.indexOf(codec) * 0x1000193), index));
  if (codec === 'mqtt') return mqttInput(rng);
  if (codec === 'coap') return datagramInput(rng, coapFrame(rng, codecs.coap));
  if (codec === 'stomp') return datagramInput(rng, stompChunk(rng, codecs.stomp));
  return datagramInput(rng, snFrame(rng, codecs.sn));
}

function mqttInput(rng) {
  const v = rng.pick([3, 4, 5, 5]);
  const n = rng.bool(0.8) ? 1 : 2 + rng.int(2);
  const bufs = [];
  let how = 'valid';
  let malformed = null;
  const target = rng.int(n);
  for (let i = 0; i < n; i++) {
    const pk = genPacket(rng, v, pickType(rng, v));
    if (i !== target) {
      bufs.push(serialise(pk));
      continue;
    }
    const r = rng.int(100);
    if (r < 55) {
      const m = mutatePacket(rng, pk);
      how = `struct:${m.name}`;
      malformed = m.malformed;
      if (rng.bool(0.15)) {
        // A second, different mutation (the same one twice can undo the first: a flag flipped back).
        const m2 = mutatePacket(rng, pk, m.name);
        how += `+${m2.name}`;
        malformed ??= m2.malformed;
      }
      bufs.push(serialise(pk));
    } else if (r < 92) {
      const m = mutateBytes(rng, serialise(pk));
      how = `bytes:${m.applied.join('+')}`;
      bufs.push(m.bytes);
    } else bufs.push(serialise(pk));
  }
  return { bytes: Buffer.concat(bufs), v, how, malformed };
}

function datagramInput(rng, valid) {
  const r = rng.int(100);
  if (r < 10) return { bytes: valid, v: 0, how: 'valid', malformed: null };
  if (r < 15) return { bytes: rng.bytes(rng.int(64)), v: 0, how: 'random', malformed: null };
  const m = mutateBytes(rng, valid);
  return { bytes: m.bytes, v: 0, how: `bytes:${m.applied.join('+')}`, malformed: null };
}

const COAP_TYPES = ['CON', 'NON', 'ACK', 'RST'];
// Uri-Path, Uri-Query, Content-Format, Observe, Block1/2, Size1, an unknown critical and elective.
const COAP_OPTS = [11, 15, 12, 6, 23, 27, 60, 9, 0x3f0, 2049, 1];

function coapFrame(rng, coap) {
  const options = [];
  const n = rng.int(6);
  for (let i = 0; i < n; i++) {
    const number = rng.pick(COAP_OPTS);
    const len = rng.bool(0.1) ? 13 + rng.int(400) : rng.int(12);
    options.push({ number, value: number === 11 ? Buffer.from(rng.pick(['ps', 'mqtt', 'connection', rng.word()])) : rng.bytes(len) });
  }
  const frame = {
    type: rng.pick(COAP_TYPES),
    code: rng.pick([1, 2, 3, 4, 65, 68, 69, 132, rng.int(256) || 1]),
    messageId: rng.int(0x10000),
    token: rng.bytes(rng.int(9)),
    options,
    payload: rng.bool(0.5) ? rng.bytes(1 + rng.int(rng.bool(0.1) ? 1200 : 40)) : Buffer.alloc(0),
  };
  return coap.encode(frame);
}

const SN_QOS = [-1, 0, 1, 2];

function snTopic(rng) {
  const t = rng.int(4);
  if (t === 0) return { idType: 0, name: `${rng.word()}/${rng.word()}` };
  if (t === 1) return { idType: 1, id: rng.int(0x10000) };
  if (t === 2) return { idType: 2, name: rng.word(2).padEnd(2, 'x') };
  return { idType: 3, raw: rng.bytes(2) };
}

function snFrame(rng, sn) {
  const u16 = () => rng.int(0x10000);
  const big = () => (rng.bool(0.05) ? 300 + rng.int(1000) : rng.int(60));
  const kind = rng.int(20);
  let f;
  switch (kind) {
    case 0: f = { type: 'searchgw', radius: rng.int(4) }; break;
    case 1: f = { type: 'connect', will: rng.bool(), cleanSession: rng.bool(), protocolId: 1, duration: u16(), clientId: `c${rng.word(20)}` }; break;
    case 2: f = { type: 'willtopic', qos: rng.pick(SN_QOS), retain: rng.bool(), topic: rng.bool(0.2) ? null : rng.word() }; break;
    case 3: f = { type: 'willmsg', payload: rng.bytes(big()) }; break;
    case 4: f = { type: 'register', topicId: u16(), msgId: u16(), topicName: `${rng.word()}/${rng.word()}` }; break;
    case 5: f = { type: 'regack', topicId: u16(), msgId: u16(), rc: rng.int(4) }; break;
    case 6:
    case 7: f = { type: 'publish', dup: rng.bool(), qos: rng.pick(SN_QOS), retain: rng.bool(), topicIdType: rng.int(4), topicId: u16(), msgId: u16(), payload: rng.bytes(big()) }; break;
    case 8: f = { type: 'puback', topicId: u16(), msgId: u16(), rc: rng.int(4) }; break;
    case 9: f = { type: rng.pick(['pubcomp', 'pubrec', 'pubrel']), msgId: u16() }; break;
    case 10:
    case 11: f = { type: 'subscribe', dup: rng.bool(), qos: rng.pick(SN_QOS), msgId: u16(), topic: snTopic(rng) }; break;
    case 12: f = { type: 'unsubscribe', msgId: u16(), topic: snTopic(rng) }; break;
    case 13: f = { type: 'pingreq', clientId: rng.bool() ? null : rng.word() }; break;
    case 14: f = { type: 'disconnect', duration: rng.bool() ? null : u16() }; break;
    case 15: f = { type: 'willtopicupd', qos: rng.pick(SN_QOS), retain: rng.bool(), topic: rng.bool(0.2) ? null : rng.word() }; break;
    case 16: f = { type: 'willmsgupd', payload: rng.bytes(big()) }; break;
    case 17: f = { type: 'advertise', gwId: rng.int(256), duration: u16() }; break;
    case 18: f = { type: 'gwinfo', gwId: rng.int(256), gwAdd: rng.bool() ? null : rng.bytes(rng.int(8)) }; break;
    default: {
      const inner = snFrame(rng, sn);
      return sn.encode({ type: 'encapsulated', radius: rng.int(4), nodeId: rng.bytes(rng.int(8)), inner });
    }
  }
  return sn.encode(f);
}

const STOMP_COMMANDS = ['CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT'];
// Names the channel reads, and values with every escape STOMP 1.1/1.2 define (and some they do not).
const STOMP_HEADERS = ['destination', 'id', 'ack', 'receipt', 'transaction', 'content-type', 'content-length', 'accept-version', 'heart-beat', 'login', 'passcode', 'host', 'persistent', 'x-custom'];

function stompValue(rng) {
  const pieces = [rng.word(), 'a:b', 'line\nbreak', 'back\\slash', 'c\\c', 'tab\\t', '\r', '1,0', '10000,10000', rng.word(3)];
  return rng.pick(pieces);
}

/** One to three STOMP frames (sometimes with heart-beat EOLs between them), as one stream chunk. */
function stompChunk(rng, stomp) {
  const bufs = [];
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    if (rng.bool(0.2)) bufs.push(Buffer.from(rng.pick(['\n', '\r\n'])));
    const headers = [];
    const hn = rng.int(6);
    for (let k = 0; k < hn; k++) headers.push([rng.pick(STOMP_HEADERS), stompValue(rng)]);
    const body = rng.bool(0.5) ? rng.bytes(rng.int(rng.bool(0.1) ? 2000 : 40)) : Buffer.alloc(0);
    bufs.push(stomp.encode({ command: rng.pick(STOMP_COMMANDS), headers, body, escape: rng.pick(['none', '1.1', '1.2']) }));
  }
  return Buffer.concat(bufs);
}
