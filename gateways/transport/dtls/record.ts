// Just enough of the DTLS 1.2 record layer (RFC 6347 §4.1, §4.2.2) to route a datagram before
// OpenSSL sees it: is it a ClientHello in epoch 0 (a new handshake, to go through the stateless
// cookie exchange), or something for an existing session?

const RECORD_HEADER = 13;
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;

/** True when the datagram starts with an epoch-0 handshake record carrying a ClientHello. */
export function isClientHello(d: Buffer): boolean {
  return (
    d.length >= RECORD_HEADER + 12 &&
    d[0] === HANDSHAKE &&
    d[1] === 0xfe && // DTLS versions are 0xfeXX
    d[3] === 0 &&
    d[4] === 0 && // epoch 0
    d[RECORD_HEADER] === CLIENT_HELLO
  );
}

/** The ClientHello's 32-byte random (tells a retransmitted hello from a new handshake); call only
 *  when isClientHello() holds. A view into the datagram. */
export function clientHelloRandom(d: Buffer): Buffer {
  // record header, handshake header (12), client_version (2)
  return d.subarray(RECORD_HEADER + 14, RECORD_HEADER + 14 + 32);
}

/** True when the first byte is a DTLS content type (change_cipher_spec .. heartbeat) with a DTLS version. */
export function looksLikeDtls(d: Buffer): boolean {
  return d.length >= RECORD_HEADER && d[0]! >= 20 && d[0]! <= 25 && d[1] === 0xfe;
}
