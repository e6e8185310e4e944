import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeProps, encodeProps } from '../../../src/store/codec.js';
import { Store } from '../../../src/store/store.js';

// [MQTT-3.3.2-17] / [MQTT-3.3.2-18]: user properties are kept as ordered pairs in the store.
describe('store codec: user properties', () => {
  it('round-trips ordered pairs with repeated and interleaved names', () => {
    const up: [string, string][] = [['b', '1'], ['a', 'x'], ['b', '2'], ['7', 'numeric name'], ['a', 'x']];
    const s = encodeProps({ userProperties: up, contentType: 'c' });
    expect(decodeProps(s)).toEqual({ userProperties: up, contentType: 'c' });
  });

  it('reads rows written in the old object form (repeats as arrays) as pairs in key order', () => {
    expect(decodeProps(JSON.stringify({ ct: 'c', up: { k: 'v', m: ['1', '2'] } }))).toEqual({ contentType: 'c', userProperties: [['k', 'v'], ['m', '1'], ['m', '2']] });
  });

  it('drops a damaged user property column but keeps the other properties', () => {
    expect(decodeProps(JSON.stringify({ ct: 'c', up: [['k']] }))).toEqual({ contentType: 'c' });
    expect(decodeProps(JSON.stringify({ ct: 'c', up: { k: 3 } }))).toEqual({ contentType: 'c' });
    expect(decodeProps(JSON.stringify({ ct: 'c', up: 'x' }))).toEqual({ contentType: 'c' });
  });
});

describe('store file written by the old user property format', () => {
  it('loads a retained row whose props hold the object form, as pairs in key order', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'outpost-up-')), 'outpost.db');
    const log = pino({ level: 'silent' });
    Store.open({ path, synchronous: 'NORMAL', log }).close();
    const db = new Database(path);
    db.prepare('INSERT INTO retained (msg_id, topic, payload, qos, retain, props, from_client, from_username, origin, ts, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)').run(
      1, 'old/t', Buffer.from('p'), 1, 1, JSON.stringify({ up: { site: 's1', tag: ['a', 'b'] } }), 'c', null, null, 1, 0,
    );
    db.close();
    const s = Store.open({ path, synchronous: 'NORMAL', log });
    expect(s.loadRetained().map((m) => m.props?.userProperties)).toEqual([[['site', 's1'], ['tag', 'a'], ['tag', 'b']]]);
    s.close();
  });
});
