// Pre-shared keys for the DTLS listeners (issue 20): EMQX 5's [psk_authentication] init_file plus
// the keys pairing hands to devices (the device registry). The DTLS engine asks `key(identity)`
// during a handshake, so the lookup is synchronous: the file lives in memory, the registry is one
// indexed SQLite read.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { PskAuthenticationConfig } from './config.js';

export class PskFileError extends Error {}

/**
 * EMQX's init_file format (emqx_psk:get_psks): one `identity<separator>secret` per line, split at
 * the first separator, the line end (LF or CRLF) trimmed; the secret is used as the raw bytes of
 * the line, not decoded from hex. EMQX refuses any line without the separator (bad_format with its
 * line number), blank lines included; a final line end is fine. Outpost also refuses an empty
 * identity or secret (no DTLS handshake can use them).
 */
export function parsePskFile(text: string, separator = ':'): Map<string, Buffer> {
  if (separator === '') throw new PskFileError('separator must not be empty');
  const out = new Map<string, Buffer>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const at = line.indexOf(separator);
    if (at < 0) throw new PskFileError(`line ${i + 1}: bad format, expected identity${separator}secret`);
    const identity = line.slice(0, at);
    const secret = line.slice(at + separator.length);
    if (identity === '') throw new PskFileError(`line ${i + 1}: empty identity`);
    if (secret === '') throw new PskFileError(`line ${i + 1}: empty secret for ${identity}`);
    // EMQX overwrites an identity that appears twice; so does this (the last line wins).
    out.set(identity, Buffer.from(secret, 'utf8'));
  });
  return out;
}

/** Reads and parses the configured init_file; an empty map when disabled or no file is set. */
export function loadPskFile(cfg: PskAuthenticationConfig, dataDir: string): Map<string, Buffer> {
  if (!cfg.enable || cfg.init_file === '') return new Map();
  const path = isAbsolute(cfg.init_file) ? cfg.init_file : resolve(dataDir, cfg.init_file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PskFileError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parsePskFile(text, cfg.separator);
  } catch (err) {
    throw new PskFileError(`${path}: ${(err as Error).message}`);
  }
}

/** The registry's side: a paired device's key by its PSK identity. */
export interface DevicePskLookup {
  pskKey(identity: string): Buffer | undefined;
}

/**
 * The one PSK source every DTLS listener uses. Paired devices come first: unpairing must revoke a
 * key even when the init_file happens to hold the same identity.
 */
export class PskStore {
  private file: Map<string, Buffer>;
  private readonly revoked: ((identity: string) => void)[] = [];

  constructor(
    file: Map<string, Buffer>,
    private readonly devices: DevicePskLookup,
  ) {
    this.file = file;
  }

  key(identity: string): Buffer | undefined {
    return this.devices.pskKey(identity) ?? this.file.get(identity);
  }

  /** Whether an identity a DTLS session was established with is still known (revocation check). */
  has(identity: string): boolean {
    return this.key(identity) !== undefined;
  }

  fileSize(): number {
    return this.file.size;
  }

  /** Replace the init_file entries; identities that disappear are reported as revoked. */
  replaceFile(next: Map<string, Buffer>): void {
    const prev = this.file;
    this.file = next;
    for (const [id, k] of prev) {
      const now = this.key(id);
      if (now === undefined || !now.equals(k)) this.revoke(id);
    }
  }

  /** Gateways close the DTLS sessions of a revoked identity (unpair, init_file reload). */
  onRevoked(listener: (identity: string) => void): void {
    this.revoked.push(listener);
  }

  revoke(identity: string): void {
    for (const l of this.revoked) l(identity);
  }
}
