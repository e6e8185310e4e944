// An ExProto handler to copy: a line-based device protocol implemented as the user's
// ConnectionUnaryHandler, talking to Outpost's (or EMQX's) ConnectionAdapter. It depends only on
// @grpc/grpc-js, @grpc/proto-loader and exproto.proto, so it runs unchanged against EMQX 5.
//
// Device protocol, one command per line (\n or \r\n):
//   CONNECT <clientid> [<username> <password> [<keepalive s>]]
//                                               -> OK | DENIED <reason> (then closed)
//   PUB <topic> <payload...>                    -> OK | ERR <code> <reason>   (QoS 1)
//   SUB <topic> / UNSUB <topic>                 -> OK | ERR <code> <reason>
//   PING                                        -> PONG
//   QUIT                                        -> BYE (then closed)
// and, for each MQTT message matching a subscription:  MSG <topic> <payload>
//
// Run (after `npm run build`):
//   EXPROTO_HANDLER_BIND=127.0.0.1:9001 EXPROTO_ADAPTER=127.0.0.1:9100 node dist/gateways/exproto/example/line-handler.js
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The .proto beside the source, or in the source tree when run from dist/; EXPROTO_PROTO overrides. */
function protoPath(): string {
  const candidates = [process.env['EXPROTO_PROTO'], '../exproto.proto', '../../../../gateways/exproto/exproto.proto'];
  for (const c of candidates) {
    if (!c) continue;
    const p = c.startsWith('/') ? c : fileURLToPath(new URL(c, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('exproto.proto not found: set EXPROTO_PROTO');
}

const pkgDef = protoLoader.loadSync(protoPath(), { keepCase: true, enums: String, longs: String, defaults: true });
const v1 = (grpc.loadPackageDefinition(pkgDef) as unknown as { emqx: { exproto: { v1: Record<string, grpc.ServiceClientConstructor> } } }).emqx.exproto.v1;

interface CodeResponse {
  code: string;
  message: string;
}
type AdapterMethod = 'Send' | 'Close' | 'Authenticate' | 'StartTimer' | 'Publish' | 'Subscribe' | 'Unsubscribe';

const adapterAddress = process.env['EXPROTO_ADAPTER'] ?? '127.0.0.1:9100';
const adapterClient = new v1['ConnectionAdapter']!(adapterAddress, grpc.credentials.createInsecure());

/** One adapter call with a deadline; a transport failure reads as a CodeResponse too. */
function adapter(method: AdapterMethod, req: object): Promise<CodeResponse> {
  const fn = (adapterClient as unknown as Record<string, (r: object, o: object, cb: (e: grpc.ServiceError | null, r: CodeResponse) => void) => void>)[method]!;
  return new Promise((resolve) => {
    fn.call(adapterClient, req, { deadline: Date.now() + 5000 }, (err, res) => resolve(err ? { code: 'UNKNOWN', message: err.message } : res));
  });
}

const MAX_LINE = 4096;
/** Unfinished line per connection. */
const pending = new Map<string, string>();

const say = (conn: string, line: string) => adapter('Send', { conn, bytes: Buffer.from(`${line}\n`) });
const answer = (conn: string, r: CodeResponse) => say(conn, r.code === 'SUCCESS' ? 'OK' : `ERR ${r.code} ${r.message}`);

async function command(conn: string, line: string): Promise<void> {
  const [verb = '', ...args] = line.split(' ');
  switch (verb.toUpperCase()) {
    case 'CONNECT': {
      const [clientid = '', username = '', password = '', keepalive = '60'] = args;
      const r = await adapter('Authenticate', { conn, clientinfo: { proto_name: 'line', proto_ver: '1', clientid, username }, password });
      if (r.code !== 'SUCCESS') {
        await say(conn, `DENIED ${r.message}`);
        await adapter('Close', { conn });
        return;
      }
      // The gateway closes the device after 1.5 x keepalive without bytes (send PING meanwhile).
      const interval = Number.parseInt(keepalive, 10);
      await adapter('StartTimer', { conn, type: 'KEEPALIVE', interval: interval > 0 ? interval : 60 });
      await say(conn, 'OK');
      return;
    }
    case 'PUB':
      return void (await answer(conn, await adapter('Publish', { conn, topic: args[0] ?? '', qos: 1, payload: Buffer.from(args.slice(1).join(' ')) })));
    case 'SUB':
      return void (await answer(conn, await adapter('Subscribe', { conn, topic: args[0] ?? '', qos: 1 })));
    case 'UNSUB':
      return void (await answer(conn, await adapter('Unsubscribe', { conn, topic: args[0] ?? '' })));
    case 'PING':
      return void (await say(conn, 'PONG'));
    case 'QUIT':
      await say(conn, 'BYE');
      return void (await adapter('Close', { conn }));
    default:
      await say(conn, `ERR UNKNOWN_COMMAND ${verb}`);
  }
}

// The gateway sends one event per connection at a time, in order, so the line buffer needs no lock;
// replying to an event awaits adapter calls before returning, which the gateway allows.
const handler: grpc.UntypedServiceImplementation = {
  OnSocketCreated(call: grpc.ServerUnaryCall<{ conn: string }, object>, cb: grpc.sendUnaryData<object>) {
    pending.set(call.request.conn, '');
    cb(null, {});
  },
  OnReceivedBytes(call: grpc.ServerUnaryCall<{ conn: string; bytes: Buffer }, object>, cb: grpc.sendUnaryData<object>) {
    const { conn, bytes } = call.request;
    const lines = ((pending.get(conn) ?? '') + bytes.toString('utf8')).split('\n');
    const rest = lines.pop() ?? '';
    const run = async (): Promise<void> => {
      if (rest.length > MAX_LINE) {
        await say(conn, 'ERR LINE_TOO_LONG');
        await adapter('Close', { conn });
        return;
      }
      pending.set(conn, rest);
      for (const l of lines) {
        const line = l.replace(/\r$/, '').trim();
        if (line !== '') await command(conn, line);
      }
    };
    run().then(
      () => cb(null, {}),
      (err: Error) => cb({ code: grpc.status.INTERNAL, details: err.message }),
    );
  },
  OnReceivedMessages(call: grpc.ServerUnaryCall<{ conn: string; messages: { topic: string; payload: Buffer }[] }, object>, cb: grpc.sendUnaryData<object>) {
    const { conn, messages } = call.request;
    // One Send after the other: concurrent calls could reach the device out of order.
    const run = async (): Promise<void> => {
      for (const m of messages) await say(conn, `MSG ${m.topic} ${m.payload.toString('utf8')}`);
    };
    run().then(() => cb(null, {}));
  },
  OnTimerTimeout(_call: grpc.ServerUnaryCall<{ conn: string }, object>, cb: grpc.sendUnaryData<object>) {
    cb(null, {});
  },
  OnSocketClosed(call: grpc.ServerUnaryCall<{ conn: string; reason: string }, object>, cb: grpc.sendUnaryData<object>) {
    pending.delete(call.request.conn);
    cb(null, {});
  },
};

const server = new grpc.Server();
server.addService(v1['ConnectionUnaryHandler']!.service, handler);
const bind = process.env['EXPROTO_HANDLER_BIND'] ?? '127.0.0.1:9001';
server.bindAsync(bind, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`cannot listen on ${bind}: ${err.message}`);
    process.exit(1);
  }
  console.log(JSON.stringify({ msg: 'line_handler_listening', port, adapter: adapterAddress }));
});

const stop = (): void => {
  server.tryShutdown(() => process.exit(0));
  grpc.Client.prototype.close.call(adapterClient);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
