// Spec timings and limits for the CoAP gateway, each with its derivation (RFC 7252 §4.8, RFC 7641,
// RFC 7959). Config may shorten none of these: they define the wire contract with devices.

/** RFC 7252 §4.8: ACK_TIMEOUT 2 s; the first retransmission waits ACK_TIMEOUT..ACK_TIMEOUT*ACK_RANDOM_FACTOR. */
export const ACK_TIMEOUT_MS = 2000;
export const ACK_RANDOM_FACTOR = 1.5;
/** RFC 7252 §4.8: at most 4 retransmissions, the timeout doubling each time (≈ 45–93 s in all). */
export const MAX_RETRANSMIT = 4;
/**
 * RFC 7252 §4.8.2: EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN (45 s) + 2*MAX_LATENCY (200 s) + PROCESSING_DELAY (2 s)
 * = 247 s. A duplicate CON inside it gets the cached reply again.
 */
export const EXCHANGE_LIFETIME_MS = 247_000;
/** RFC 7252 §4.8.2: NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY = 145 s; duplicate NONs inside it are ignored. */
export const NON_LIFETIME_MS = 145_000;
/** RFC 7641 §4.4: the Observe option is a 24-bit sequence number. */
export const OBSERVE_MAX = 0xffffff;
/** RFC 7252 §3: tokens are 0 to 8 bytes long. */
export const MAX_TOKEN_LENGTH = 8;
/** RFC 7959 §2.2: SZX 0..6 gives 16..1024-byte blocks (2^(SZX+4)); 7 is reserved. */
export const MAX_SZX = 6;
/** Cap on remembered request message ids per channel, so a flood of distinct ids cannot grow memory without bound. */
export const MAX_DEDUP_ENTRIES = 4096;
/** Cap on concurrent Block1 uploads per channel (RFC 7959 §2.5 allows the server to limit them). */
export const MAX_BLOCK1_TRANSFERS = 4;
