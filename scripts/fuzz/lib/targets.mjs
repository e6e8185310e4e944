// One input through one codec, in-process. A throw from a codec that must never throw (FrameSplitter,
// hot-codec, CoAP and MQTT-SN frame.ts) is a crash. mqtt-packet's parser may throw: the channel
// catches that and closes as malformed_packet, so it is counted, not called a crash.

/** Frames after which one MQTT input stops (a stream chunk holds at most a few packets). */
const MAX_FRAMES = 16;
const DEFAULT_MAX_PACKET = 1048576;

export class CodecCrash extends Error {
  constructor(where, cause) {
    super(`${where}: ${cause?.message ?? cause}`);
    this.where = where;
    this.cause = cause;
  }
}

/**
 * The channel's decode path (src/mqtt/channel.ts drainFrames) without its socket and session:
 * FrameSplitter -> hot codec for PUBLISH/acks, connectLevel for CONNECT, validateFrame (src/mqtt/validate.ts:
 * every other packet checked to the letter), then mqtt-packet's parser, for a connection at protocol level v.
 * Returns { accepted, refused, parserThrew, packets } ('accepted': every frame decoded).
 */
export function mqttTarget(c, bytes, v) {
  const { FrameSplitter } = c.frame;
  const { decodePublish, decodeAck, connectLevel, TopicCache } = c.hot;
  const { validateFrame, validateAckProperties, willUserProperties } = c.validate;
  let sp;
  try {
    sp = new FrameSplitter(DEFAULT_MAX_PACKET);
    sp.push(bytes);
  } catch (e) {
    throw new CodecCrash('FrameSplitter.push', e);
  }
  const cache = new TopicCache();
  let frames = 0;
  let refused = false;
  let parserThrew = null;
  const packets = [];
  for (; frames < MAX_FRAMES; frames++) {
    let f;
    try {
      f = sp.next();
    } catch (e) {
      throw new CodecCrash('FrameSplitter.next', e);
    }
    if (f === 'more') break;
    if (typeof f === 'string') {
      refused = true;
      break;
    }
    const type = f[0] >> 4;
    if (type >= 3 && type <= 7) {
      let r;
      try {
        r = type === 3 ? decodePublish(f, v === 5, cache) : decodeAck(f, v === 5);
        // v5 acks with properties are checked to the letter too, as the channel does.
        if (type !== 3 && v === 5 && r !== -1 && f.length > 5 && validateAckProperties(f) !== 0) r = -1;
      } catch (e) {
        throw new CodecCrash(type === 3 ? 'hot-codec.decodePublish' : 'hot-codec.decodeAck', e);
      }
      if (typeof r === 'string' || r === -1) {
        refused = true;
        break;
      }
      packets.push(r);
      continue;
    }
    try {
      if (type === 1) {
        const level = connectLevel(f);
        if (level !== 3 && level !== 4 && level !== 5) {
          refused = true;
          break;
        }
      }
      if (validateFrame(f, type === 1 ? connectLevel(f) === 5 : v === 5) !== 0) {
        refused = true;
        break;
      }
      // The channel reads a v5 will's User Properties from the accepted CONNECT frame, in wire order.
      if (type === 1 && connectLevel(f) === 5) willUserProperties(f);
    } catch (e) {
      throw new CodecCrash('connectLevel/validate.validateFrame/willUserProperties', e);
    }
    const parser = c.mqttPacket.parser({ protocolVersion: type === 1 ? 4 : v });
    let got = null;
    let err = null;
    parser.on('packet', (p) => (got = p));
    parser.on('error', (e) => (err = e));
    try {
      parser.parse(f);
    } catch (e) {
      parserThrew = e;
    }
    if (parserThrew || err || got === null) {
      refused = true;
      break;
    }
    packets.push(got);
  }
  // 'complete': every byte of the input was a whole packet that decoded (none left waiting for more).
  return { accepted: !refused && packets.length > 0, complete: !refused && packets.length > 0 && frames < MAX_FRAMES && sp.buffered === 0, refused, parserThrew, packets };
}

/** CoAP: decode; a decoded frame must encode again and decode to the same frame. */
export function coapTarget(c, bytes) {
  const coap = c.coap;
  let r;
  try {
    r = coap.decode(bytes);
  } catch (e) {
    throw new CodecCrash('coap.decode', e);
  }
  if (r.kind !== 'frame') return { accepted: false, refused: true, roundtrip: null };
  let again;
  try {
    coap.unknownCriticalOption(r.frame);
    for (const o of r.frame.options) {
      if (o.number === 23 || o.number === 27) coap.decodeBlock(o.value);
      if (o.number === 6 || o.number === 12 || o.number === 60) coap.decodeUint(o.value);
    }
    coap.format(r.frame);
    again = coap.decode(coap.encode(r.frame));
  } catch (e) {
    throw new CodecCrash('coap.encode/helpers of a decoded frame', e);
  }
  const roundtrip = again.kind !== 'frame' || again.frame.options.length !== r.frame.options.length || !again.frame.payload.equals(r.frame.payload) ? 'decode(encode(frame)) differs' : null;
  return { accepted: true, refused: false, roundtrip };
}

/** MQTT-SN: datagram decode and stream decode; a decoded frame must encode again and decode. */
export function snTarget(c, bytes) {
  const sn = c.sn;
  let r;
  try {
    r = sn.decode(bytes);
    sn.decodeStream(bytes);
  } catch (e) {
    throw new CodecCrash('mqttsn.decode/decodeStream', e);
  }
  if (r.kind !== 'frame') return { accepted: false, refused: true, roundtrip: null };
  let again;
  try {
    sn.format(r.frame);
    again = sn.decode(sn.encode(r.frame));
  } catch (e) {
    throw new CodecCrash('mqttsn.encode/format of a decoded frame', e);
  }
  const roundtrip = again.kind !== 'frame' || again.frame.type !== r.frame.type ? `decode(encode(${r.frame.type})) ${again.kind === 'error' ? again.code : 'differs'}` : null;
  return { accepted: true, refused: false, roundtrip };
}

const STOMP_LIMITS = { maxHeaders: 30, maxHeaderLength: 1024, maxBodyLength: 8192 };

/**
 * STOMP: the stream decoder over one chunk, frame after frame, with the channel's header
 * unescaping for every version; a decoded frame must encode again and decode to the same command.
 */
export function stompTarget(c, bytes) {
  const st = c.stomp;
  let rest = bytes;
  let frames = 0;
  let refused = false;
  let roundtrip = null;
  for (; frames < MAX_FRAMES; frames++) {
    let r;
    try {
      r = st.decodeStream(rest, STOMP_LIMITS);
    } catch (e) {
      throw new CodecCrash('stomp.decodeStream', e);
    }
    if (r.kind === 'more') break;
    if (r.kind === 'error') {
      refused = true;
      break;
    }
    rest = r.rest;
    if (r.frame.command === '') continue;
    try {
      for (const v of ['1.0', '1.1', '1.2']) st.unescapeHeaders(r.frame, v);
      st.format(r.frame);
      const again = st.decodeStream(st.encode({ ...r.frame, escape: 'none' }), { maxHeaders: 1e6, maxHeaderLength: 1e9, maxBodyLength: 1e9 });
      if (roundtrip === null && (again.kind !== 'frame' || again.frame.command !== r.frame.command || !again.frame.body.equals(r.frame.body))) roundtrip = `decode(encode(${r.frame.command})) ${again.kind === 'error' ? again.code : 'differs'}`;
    } catch (e) {
      throw new CodecCrash('stomp.unescapeHeaders/encode/format of a decoded frame', e);
    }
  }
  return { accepted: !refused && frames > 0, refused, roundtrip };
}

export function runTarget(c, codec, input) {
  if (codec === 'mqtt') return mqttTarget(c, input.bytes, input.v);
  if (codec === 'coap') return coapTarget(c, input.bytes);
  if (codec === 'stomp') return stompTarget(c, input.bytes);
  return snTarget(c, input.bytes);
}
