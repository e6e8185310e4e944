// The shipped exproto.proto, the JSON form the daemon loads, and the wire names EMQX handlers call.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { EXPROTO_JSON } from '../../../../gateways/exproto/proto-json.js';
import { exprotoServices, LOADER_OPTIONS } from '../../../../gateways/exproto/proto.js';
import { ROOT } from '../../../helpers/daemon.js';

const PROTO = join(ROOT, 'gateways/exproto/exproto.proto');
const REGEN = 'proto-json.ts is stale: regenerate it with the command in its header';

describe('exproto.proto', () => {
  it('the embedded JSON describes exactly the shipped .proto (regenerate proto-json.ts when this fails)', () => {
    const fromFile = protoLoader.loadSync(PROTO, LOADER_OPTIONS);
    const fromJson = protoLoader.fromJSON(EXPROTO_JSON as unknown as Parameters<typeof protoLoader.fromJSON>[0], LOADER_OPTIONS);
    const shape = (def: protoLoader.PackageDefinition) =>
      Object.fromEntries(
        Object.entries(def).map(([name, v]) => [
          name,
          'format' in v && typeof v.format === 'string'
            ? (v as protoLoader.MessageTypeDefinition).type
            : Object.fromEntries(Object.entries(v as protoLoader.ServiceDefinition).map(([m, d]) => [m, { path: d.path, req: d.requestStream, res: d.responseStream, in: d.requestType.type.name, out: d.responseType.type.name }])),
        ]),
      );
    expect(shape(fromJson), REGEN).toEqual(shape(fromFile));
  });

  it('serves and calls EMQX method paths', () => {
    const s = exprotoServices();
    expect(Object.values(s.adapter).map((m) => m.path)).toEqual(
      ['Send', 'Close', 'Authenticate', 'StartTimer', 'Publish', 'Subscribe', 'Unsubscribe', 'RawPublish'].map((m) => `/emqx.exproto.v1.ConnectionAdapter/${m}`),
    );
    expect(Object.values(s.unaryHandler.service).map((m) => m.path)).toEqual(
      ['OnSocketCreated', 'OnSocketClosed', 'OnReceivedBytes', 'OnTimerTimeout', 'OnReceivedMessages'].map((m) => `/emqx.exproto.v1.ConnectionUnaryHandler/${m}`),
    );
  });

  it('keeps EMQX field numbers (spot checks on the wire format)', () => {
    const text = readFileSync(PROTO, 'utf8');
    for (const line of ['bytes payload = 6;', 'uint64 timestamp = 7;', 'CertificateInfo peercert = 4;', 'string mountpoint = 5;', 'PERMISSION_DENY = 5;', 'DTLS = 3;']) expect(text).toContain(line);
    const d = protoLoader.loadSync(PROTO, LOADER_OPTIONS);
    const msg = d['emqx.exproto.v1.Message'] as protoLoader.MessageTypeDefinition;
    const fields = (msg.type as { field: { name: string; number: number }[] }).field.map((f) => [f.name, f.number]);
    expect(fields).toEqual([['node', 1], ['id', 2], ['qos', 3], ['from', 4], ['topic', 5], ['payload', 6], ['timestamp', 7]]);
  });
});
