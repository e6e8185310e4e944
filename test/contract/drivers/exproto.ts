// The contract's ExProto device: the shipped example handler (gateways/exproto/example/
// line-handler.ts, the one users copy) runs as the user's gRPC service, and the device speaks its
// line protocol over raw TCP. So the contract checks the whole path an ExProto user has: device
// bytes -> gateway -> handler -> adapter calls -> broker, and back.
import type { Daemon } from '../../helpers/daemon.js';
import { TcpDevice, exprotoConfig, freePort, startLineHandler, type LineHandler } from '../../integration/exproto-harness.js';
import type { ConnectResult, ContractDevice, GatewayDriver, Identity } from '../gateway-contract.js';

/** Lines the device got, consumed in order. */
class LineDevice implements ContractDevice {
  private consumed = 0;
  constructor(
    private readonly dev: TcpDevice,
    readonly clientId: string,
  ) {}

  /** The next complete line matching `pred` (earlier lines are skipped), or null after `ms`. */
  async line(pred: (l: string) => boolean, ms: number): Promise<string | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = this.dev.data.toString('utf8');
      for (;;) {
        const nl = text.indexOf('\n', this.consumed);
        if (nl < 0) break;
        const l = text.slice(this.consumed, nl);
        this.consumed = nl + 1;
        if (pred(l)) return l;
      }
      if (this.dev.closed || Date.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async command(cmd: string): Promise<'ok' | 'refused'> {
    this.dev.write(`${cmd}\n`);
    const r = await this.line((l) => l === 'OK' || l.startsWith('ERR'), 3000);
    return r === 'OK' ? 'ok' : 'refused';
  }

  // The example handler publishes and subscribes at QoS 1 and answers after the adapter's reply,
  // which for QoS 1 comes once the message is durable.
  publish(topic: string, payload: string, _qos: 0 | 1): Promise<'ok' | 'refused'> {
    return this.command(`PUB ${topic} ${payload}`);
  }

  subscribe(topic: string, _qos: 0 | 1): Promise<'ok' | 'refused'> {
    return this.command(`SUB ${topic}`);
  }

  async nextMessage(ms: number): Promise<{ topic: string; payload: string } | null> {
    const l = await this.line((x) => x.startsWith('MSG '), ms);
    if (l === null) return null;
    const [, topic = '', ...rest] = l.split(' ');
    return { topic, payload: rest.join(' ') };
  }

  async alive(): Promise<boolean> {
    if (this.dev.closed) return false;
    this.dev.write('PING\n');
    return (await this.line((l) => l === 'PONG', 2000)) !== null;
  }

  sendMalformed(): void {
    // The handler's framing rule: a line longer than 4096 bytes ends the connection.
    this.dev.write('x'.repeat(5000));
  }

  async close(): Promise<void> {
    this.dev.destroy();
  }
}

let handler: LineHandler | null = null;
let ports = { adapterPort: 0, handlerPort: 0 };

export const exprotoDriver: GatewayDriver = {
  name: 'exproto',
  // EMQX files ExProto clients under the proto_name the handler gives in Authenticate.
  sysName: 'line',
  get config() {
    return exprotoConfig(ports);
  },
  async start() {
    ports = { adapterPort: await freePort(), handlerPort: await freePort() };
    handler = await startLineHandler(ports.adapterPort, ports.handlerPort);
  },
  async stop() {
    const h = handler;
    handler = null;
    await h?.stop();
  },
  canBeAnonymous: true,
  duplicateId: 'takeover',
  malformed: 'close',
  async connect(d: Daemon, who: Identity): Promise<ConnectResult> {
    const dev = await TcpDevice.connect(d.ports['exproto:tcp:default']!);
    const device = new LineDevice(dev, who.clientId);
    const creds = who.username !== null ? ` ${who.username} ${who.password ?? ''}` : '';
    dev.write(`CONNECT ${who.clientId}${creds}${who.keepalive !== undefined && creds !== '' ? ` ${who.keepalive}` : ''}\n`);
    const r = await device.line((l) => l === 'OK' || l.startsWith('DENIED'), 5000);
    if (r !== 'OK') {
      dev.destroy();
      return { ok: false, detail: r ?? 'no answer' };
    }
    return { ok: true, device };
  },
};
