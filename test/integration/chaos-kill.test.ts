// Chaos (issue 15, faults): repeated kill -9 of the daemon under QoS 1 load loses nothing it
// acknowledged. Publishers are MQTT.js clients that number their messages and, like any real client,
// resend what is unacknowledged after reconnecting (with DUP); a persistent QoS 1 subscriber stays
// connected through it all. At the end every number a publisher saw acknowledged must have been
// delivered (lost = 0), first arrivals per publisher must be in order, and duplicates (at-least-once
// redeliveries after a kill) are counted and reported, not failed. The second test runs the same load
// through a bridge to a real mosquitto that is stopped and started while Outpost is killed too.
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, startMosquitto } from '../helpers/mosquitto.js';
import { sleep, until } from '../helpers/mqtt-clients.js';
import { audit } from '../helpers/sequence-audit.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PUBLISHERS = 3;
const WINDOW = 8; // unacknowledged publishes per publisher at a time
const MAX_PER_PUBLISHER = 60_000; // bound on the load whatever the machine's speed

function client(port: number, opts: mqtt.IClientOptions): mqtt.MqttClient {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 150, connectTimeout: 3000, ...opts });
  c.on('error', () => undefined);
  cleanups.push(() => new Promise<void>((r) => c.end(true, {}, () => r())));
  return c;
}

/** Publishers numbering their messages 0, 1, 2 … on `${prefix}/${p}`; `acked[p]` counts PUBACKs received. */
class Load {
  readonly acked: number[] = new Array(PUBLISHERS).fill(0);
  readonly issued: number[] = new Array(PUBLISHERS).fill(0);
  private running = true;
  private readonly done: Promise<unknown>;
  /** Highest number acknowledged per publisher, as a set (acks may resolve out of order inside the window). */
  readonly ackedSet: Set<number>[] = Array.from({ length: PUBLISHERS }, () => new Set<number>());

  constructor(port: number, prefix: string) {
    const workers: Promise<void>[] = [];
    for (let p = 0; p < PUBLISHERS; p++) {
      const c = client(port, { clientId: `chaos-pub-${p}`, protocolVersion: 4, clean: true });
      for (let w = 0; w < WINDOW; w++) {
        workers.push(
          (async () => {
            while (this.running && this.issued[p]! < MAX_PER_PUBLISHER) {
              const i = this.issued[p]!++;
              // Resolves on PUBACK only; MQTT.js keeps it in its outgoing store across reconnects.
              await c.publishAsync(`${prefix}/${p}`, String(i), { qos: 1 });
              this.acked[p]!++;
              this.ackedSet[p]!.add(i);
            }
          })(),
        );
      }
    }
    this.done = Promise.all(workers);
  }

  /** Stop issuing; resolves once every issued publish is acknowledged (bounded). */
  async finish(ms: number): Promise<void> {
    this.running = false;
    await Promise.race([this.done, sleep(ms)]);
  }

  get totalAcked(): number {
    return this.acked.reduce((a, b) => a + b, 0);
  }
}

/** Records payload numbers per publisher from topics `…/${p}`. */
function recorder(c: mqtt.MqttClient): number[][] {
  const got: number[][] = Array.from({ length: PUBLISHERS }, () => []);
  c.on('message', (topic, payload) => {
    const p = Number(topic.slice(topic.lastIndexOf('/') + 1));
    got[p]?.push(Number(payload.toString()));
  });
  return got;
}

/** Session-present flags of every CONNACK the client got (the first is the fresh session). */
function connacks(c: mqtt.MqttClient): boolean[] {
  const flags: boolean[] = [];
  c.on('connect', (p) => flags.push(p.sessionPresent));
  return flags;
}

function waitConnected(c: mqtt.MqttClient, ms: number, what: string): Promise<void> {
  return until(() => c.connected, ms, what);
}

interface Report {
  acked: number;
  delivered: number;
  lost: number;
  disorder: number;
  dups: number;
  lostSamples: string[];
}

function reckon(load: Load, got: number[][]): Report {
  const r: Report = { acked: 0, delivered: 0, lost: 0, disorder: 0, dups: 0, lostSamples: [] };
  for (let p = 0; p < PUBLISHERS; p++) {
    const a = audit(got[p]!, load.issued[p]!);
    r.disorder += a.disorder;
    r.dups += a.dups;
    r.delivered += got[p]!.length;
    r.acked += load.ackedSet[p]!.size;
    const seen = new Set(got[p]);
    for (const i of load.ackedSet[p]!) {
      if (seen.has(i)) continue;
      r.lost++;
      if (r.lostSamples.length < 10) r.lostSamples.push(`${p}:${i}`);
    }
  }
  return r;
}

/** Every acknowledged number has arrived (or the bound passes). */
async function drained(load: Load, got: number[][], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (reckon(load, got).lost === 0) return;
    await sleep(200);
  }
}

describe('chaos: kill -9 under QoS 1 load', () => {
  it('5 kills of the daemon: every acknowledged message reaches the persistent subscriber, in order per publisher', async () => {
    const port = await freePort();
    const d: Daemon = await startDaemon({ config: `[mqtt]\nport = ${port}\nmax_mqueue_len = 200000\nmax_inflight = 32\n` });
    cleanups.push(async () => {
      await d.stop();
      d.cleanup();
    });
    const sub = client(port, { clientId: 'chaos-sub', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    const got = recorder(sub);
    const subConnacks = connacks(sub);
    await waitConnected(sub, 5000, 'subscriber');
    await sub.subscribeAsync('chaos/#', { qos: 1 });
    const load = new Load(port, 'chaos');
    const kills = 5;
    for (let k = 0; k < kills; k++) {
      // Let the load run (and every client reconnect) before the next kill lands mid-stream.
      const before = load.totalAcked;
      await until(() => load.totalAcked >= before + 300, 10_000, `load moving before kill ${k + 1}`);
      await sleep(300 + 150 * k);
      await d.kill();
      await sleep(150);
      await d.restart();
      expect(d.mqttPort).toBe(port);
    }
    await until(() => sub.connected, 5000, 'subscriber back');
    await load.finish(15_000);
    await drained(load, got, 15_000);
    const r = reckon(load, got);
    console.log(`chaos-kill direct: ${kills} kills, acked ${r.acked}, delivered ${r.delivered}, lost ${r.lost}, dups ${r.dups}, disorder ${r.disorder}`);
    expect(load.issued.every((n, p) => load.ackedSet[p]!.size === n)).toBe(true); // every issued publish was acknowledged in the end
    expect(r.lostSamples).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.disorder).toBe(0);
    expect(r.acked).toBeGreaterThan(1000);
    // The subscriber was cut off by each kill and resumed its stored session every time.
    expect(subConnacks.length).toBeGreaterThanOrEqual(kills + 1);
    expect(subConnacks.slice(1).every((present) => present)).toBe(true);
  }, 90_000);

  it('bridge to a flapping mosquitto, Outpost killed twice: nothing Outpost acknowledged is missing upstream', async () => {
    const up = await startMosquitto();
    cleanups.push(() => up.cleanup());
    const upSub = client(up.port, { clientId: 'chaos-cloud-sub', protocolVersion: 4, clean: false });
    const got = recorder(upSub);
    const upConnacks = connacks(upSub);
    await waitConnected(upSub, 5000, 'upstream subscriber');
    await upSub.subscribeAsync('up/chaos/#', { qos: 1 });
    const port = await freePort();
    const d: Daemon = await startDaemon({
      config: `[mqtt]\nport = ${port}\n\n[bridges.cloud]\nservers = ["127.0.0.1:${up.port}"]\nreconnect = { min = 0.05, max = 0.3 }\negress = [{ filter = "chaos/#", topic = "up/\${topic}" }]\n`,
    });
    cleanups.push(async () => {
      await d.stop();
      d.cleanup();
    });
    const load = new Load(port, 'chaos');
    // Upstream stopped/started 4 times, Outpost killed twice (once while the upstream is down).
    const steps: ('up-stop' | 'up-start' | 'kill')[] = ['up-stop', 'up-start', 'up-stop', 'kill', 'up-start', 'up-stop', 'up-start', 'kill', 'up-stop', 'up-start'];
    for (const step of steps) {
      const before = load.totalAcked;
      await until(() => load.totalAcked >= before + 200, 10_000, `load moving before ${step}`);
      await sleep(300);
      if (step === 'up-stop') await up.stop();
      else if (step === 'up-start') await up.restart();
      else {
        await d.kill();
        await sleep(100);
        await d.restart();
        expect(d.mqttPort).toBe(port);
      }
    }
    await load.finish(15_000);
    await until(() => upSub.connected, 5000, 'upstream subscriber back');
    await drained(load, got, 20_000);
    const r = reckon(load, got);
    console.log(`chaos-kill bridge: acked ${r.acked}, delivered upstream ${r.delivered}, lost ${r.lost}, dups ${r.dups}, disorder ${r.disorder}`);
    expect(load.issued.every((n, p) => load.ackedSet[p]!.size === n)).toBe(true);
    expect(r.lostSamples).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.acked).toBeGreaterThan(1000);
    // Order per publisher survives the bridge's replay after each outage and kill.
    expect(r.disorder).toBe(0);
    // The upstream really went away: its subscriber reconnected to its persisted session each time.
    expect(upConnacks.length).toBeGreaterThanOrEqual(5);
    expect(upConnacks.slice(1).every((present) => present)).toBe(true);
  }, 90_000);
});
