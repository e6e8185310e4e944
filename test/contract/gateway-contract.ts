// The contract every gateway runs against the real daemon (issue 16): the behaviours an EMQX user
// relies on whatever protocol the device speaks. Each gateway supplies a driver (drivers/*.ts) that
// speaks its protocol with a real socket; this file holds the cases, so a new gateway gets the
// whole suite by writing one driver and one three-line test file.
//
// The daemon runs with users in its database (so anonymous devices must be refused), a file ACL
// that denies `denied/#`, the HTTP API on loopback (kick, ban) and short keepalives.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, uid, type Received, type TestClient } from '../helpers/mqtt-clients.js';
import { seedAuth } from '../helpers/seed-users.js';

/** The password every contract user has; devices whose protocol carries credentials send it. */
export const PASSWORD = 'contract-secret';

export interface Identity {
  clientId: string;
  /** null: an anonymous device (no credentials at all). */
  username: string | null;
  password: string | null;
  /** Seconds of silence after which the gateway must end the connection (keepalive / heartbeat). */
  keepalive?: number;
}

export type ConnectResult = { ok: true; device: ContractDevice } | { ok: false; detail: string };

/** One device connection, through the gateway's own protocol on a real socket. */
export interface ContractDevice {
  readonly clientId: string;
  /** Resolves once the gateway answered: 'ok' (acknowledged; for QoS 1 after it is durable) or 'refused'. */
  publish(topic: string, payload: string, qos: 0 | 1): Promise<'ok' | 'refused'>;
  subscribe(topic: string, qos: 0 | 1): Promise<'ok' | 'refused'>;
  /** The next message the gateway delivered, or null after `ms`. */
  nextMessage(ms: number): Promise<{ topic: string; payload: string } | null>;
  /** Whether the gateway still serves this connection (a keepalive exchange, answered positively). */
  alive(): Promise<boolean>;
  /** One frame that the protocol's codec must refuse (bad length, bad version, truncated). */
  sendMalformed(): void;
  close(): Promise<void>;
}

export interface GatewayDriver {
  /** Config name: `gateway.<name>`, and the name in /api/v5/gateways/<name>/clients. */
  name: string;
  /** EMQX's name in $SYS gateway topics: 'coap', 'mqtt-sn', 'lwm2m', 'stomp', 'exproto'. */
  sysName: string;
  /** TOML for the gateway section(s), listeners on 127.0.0.1 port 0 (read after start()). */
  readonly config: string;
  /** Before the daemon starts: helpers the gateway needs (ExProto: the user's gRPC handler). */
  start?(): Promise<void>;
  /** After the daemon stopped. */
  stop?(): Promise<void>;
  /**
   * Whether a device can connect without any credentials on the wire. MQTT-SN 1.2 has no
   * credential fields: its identity comes from `clientinfo_override`, so it has no anonymous case.
   */
  canBeAnonymous: boolean;
  /**
   * Whether devices publish and subscribe to topics of their choosing (false: LwM2M, whose MQTT
   * side is EMQX's fixed dn/up command protocol, tested in its own suite).
   */
  pubsub?: boolean;
  /**
   * What a second connection with a live client id does, as the protocol's reference does it:
   * 'takeover' (MQTT, MQTT-SN: the first connection ends), 'refuse' (EMQX's CoAP connection mode
   * answers "client has connected" and keeps the first) or 'reregister' (LwM2M: the new
   * registration replaces the old session; both devices share one location, so either may update it).
   */
  duplicateId: 'takeover' | 'refuse' | 'reregister';
  /**
   * What a malformed frame does to its sender: 'close' (stream-like sessions: MQTT-SN ends the
   * connection) or 'reject' (CoAP answers RST and keeps the session: RFC 7252 §4.2, and a spoofable
   * UDP source must not be able to end someone else's session).
   */
  malformed: 'close' | 'reject';
  /** The disconnected event's reason after a malformed frame closed the connection ('malformed_packet' where the gateway parses frames). */
  malformedReason?: string;
  connect(d: Daemon, who: Identity): Promise<ConnectResult>;
}

// The app watching the devices may read `denied/#`, to see that nothing denied was ever published.
const ACL = ['{allow, {username, "contract-app"}, subscribe, ["denied/#", "$SYS/#"]}.', '{deny, all, publish, ["denied/#"]}.', '{deny, all, subscribe, ["denied/#"]}.', '{allow, all}.', ''].join('\n');

/** Registers the contract's cases for one gateway. */
export function describeGatewayContract(driver: GatewayDriver): void {
  describe(`gateway contract: ${driver.name}`, () => {
    let d: Daemon;
    let app: TestClient;
    const open: ContractDevice[] = [];
    /** The HTTP API as an operator with an API key (EMQX's bootstrap file). */
    const api = (path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`http://127.0.0.1:${d.ports['api:http']}${path}`, {
        ...init,
        headers: { authorization: `Basic ${Buffer.from('ops:ops-secret').toString('base64')}`, 'content-type': 'application/json', ...init.headers },
      });

    /** A user name that exists in the store (password PASSWORD); devices named after it authenticate. */
    const user = (prefix: string): string => uid(`${driver.name}-${prefix}`).slice(0, 22);
    const seeded = new Set<string>();
    const pool = Array.from({ length: 24 }, (_, i) => `${driver.name}-u${i}`);
    let next = 0;
    const identity = (keepalive?: number): Identity => {
      const name = pool[next++]!;
      return { clientId: name, username: name, password: PASSWORD, keepalive };
    };

    async function connect(who: Identity): Promise<ContractDevice> {
      const r = await driver.connect(d, who);
      if (!r.ok) throw new Error(`${who.clientId} could not connect: ${r.detail}`);
      open.push(r.device);
      return r.device;
    }

    /** The $SYS client event for `clientId`, waited for up to `ms`. */
    async function event(clientId: string, kind: 'connected' | 'disconnected', ms = 5000): Promise<Record<string, unknown>> {
      const suffix = `/clients/${clientId}/${kind}`;
      const [m] = await app.waitMessages(1, ms, (x: Received) => x.topic.endsWith(suffix));
      return JSON.parse(m!.text) as Record<string, unknown>;
    }

    beforeAll(async () => {
      await driver.start?.();
      const dataDir = mkdtempSync(join(tmpdir(), `outpost-contract-${driver.name}-`));
      const aclFile = join(dataDir, 'acl.conf');
      writeFileSync(aclFile, ACL);
      const keys = join(dataDir, 'api-keys');
      writeFileSync(keys, 'ops:ops-secret\n');
      await seedAuth(dataDir, async (users) => {
        for (const u of pool) {
          await users.add(u, PASSWORD);
          seeded.add(u);
        }
        await users.add('contract-app', PASSWORD);
      });
      d = await startDaemon({
        dataDir,
        config: `${driver.config}
[api]
port = 0
api_key_bootstrap_file = ${JSON.stringify(keys)}
[authorization]
no_match = "allow"
sources = ["file"]
[authorization.file]
path = ${JSON.stringify(aclFile)}
`,
      });
      app = await connectClient(d.mqttUrl, { clientId: uid('contract-app'), username: 'contract-app', password: PASSWORD });
      await app.sub(`$SYS/brokers/+/gateway/${driver.sysName}/clients/+/+`, { qos: 0 });
      await app.sub('contract/#', { qos: 1 });
      await app.sub('denied/#', { qos: 0 });
    });

    afterAll(async () => {
      for (const dev of open) await dev.close().catch(() => undefined);
      await app?.end(true).catch(() => undefined);
      await d?.stop();
      d?.cleanup();
      await driver.stop?.();
    });

    it('connects with valid credentials: the device is a client in the API and $SYS says connected', async () => {
      const who = identity();
      const dev = await connect(who);
      const ev = await event(who.clientId, 'connected');
      expect(ev).toMatchObject({ clientid: who.clientId, username: who.username });
      const res = await api(`/api/v5/gateways/${driver.name}/clients`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data: { clientid: string }[] };
      expect(body.data.map((c) => c.clientid)).toContain(who.clientId);
      expect(await dev.alive()).toBe(true);
    });

    it('refuses a device whose credentials the store does not know', async () => {
      const stranger = user('stranger');
      expect(seeded.has(stranger)).toBe(false);
      const r = await driver.connect(d, { clientId: stranger, username: stranger, password: 'wrong-password' });
      if (r.ok) open.push(r.device);
      expect(r.ok).toBe(false);
    });

    if (driver.canBeAnonymous) {
      it('refuses an anonymous device once users exist (allow_anonymous = auto)', async () => {
        const r = await driver.connect(d, { clientId: user('anon'), username: null, password: null });
        if (r.ok) open.push(r.device);
        expect(r.ok).toBe(false);
      });
    }

    if (driver.pubsub !== false) {
      it('publishes QoS 0 and QoS 1 to MQTT subscribers; QoS 1 is acknowledged', async () => {
        const dev = await connect(identity());
        const t1 = `contract/${dev.clientId}/q1`;
        const t0 = `contract/${dev.clientId}/q0`;
        expect(await dev.publish(t1, 'one', 1)).toBe('ok');
        expect(await dev.publish(t0, 'zero', 0)).toBe('ok');
        const got = await app.waitMessages(2, 5000, (m) => m.topic === t1 || m.topic === t0);
        const byTopic = new Map(got.map((m) => [m.topic, m]));
        expect(byTopic.get(t1)?.text).toBe('one');
        expect(byTopic.get(t1)?.packet.qos).toBe(1);
        expect(byTopic.get(t0)?.text).toBe('zero');
      });

      it('subscribes and receives what an MQTT client publishes', async () => {
        const dev = await connect(identity());
        const topic = `contract/${dev.clientId}/down`;
        expect(await dev.subscribe(topic, 0)).toBe('ok');
        await app.pub(topic, 'to-device', { qos: 0 });
        expect(await dev.nextMessage(5000)).toEqual({ topic, payload: 'to-device' });
      });

      it('obeys the ACL: a denied publish is refused and reaches nobody, a denied subscribe is refused', async () => {
        const dev = await connect(identity());
        const topic = `denied/${dev.clientId}`;
        expect(await dev.publish(topic, 'secret', 1)).toBe('refused');
        expect(await dev.subscribe(`denied/${dev.clientId}/#`, 0)).toBe('refused');
        await sleep(200);
        expect(app.msgs.some((m) => m.topic === topic)).toBe(false);
      });
    }

    it('is kicked through DELETE /api/v5/gateways/{name}/clients/{clientid}', async () => {
      const who = identity();
      const dev = await connect(who);
      await event(who.clientId, 'connected');
      const res = await api(`/api/v5/gateways/${driver.name}/clients/${who.clientId}`, { method: 'DELETE' });
      expect(res.status).toBe(204);
      expect(await event(who.clientId, 'disconnected')).toMatchObject({ clientid: who.clientId, reason: 'kicked' });
      expect(await dev.alive()).toBe(false);
    });

    it('is kicked by a ban and refused while the ban lasts', async () => {
      const who = identity();
      const dev = await connect(who);
      await event(who.clientId, 'connected');
      const res = await api('/api/v5/banned', { method: 'POST', body: JSON.stringify({ as: 'clientid', who: who.clientId }) });
      expect(res.status).toBe(200);
      await event(who.clientId, 'disconnected');
      expect(await dev.alive()).toBe(false);
      const again = await driver.connect(d, who);
      if (again.ok) open.push(again.device);
      expect(again.ok).toBe(false);
    });

    it(`handles a second connection with the same client id (${driver.duplicateId}): never two live sessions`, async () => {
      const who = identity();
      const first = await connect(who);
      await event(who.clientId, 'connected');
      const second = await driver.connect(d, who);
      if (second.ok) open.push(second.device);
      if (driver.duplicateId !== 'refuse') {
        expect(second.ok).toBe(true);
        // EMQX's reasons: 'discarded' when the newcomer starts clean, 'takenover' when it resumes.
        const ev = await event(who.clientId, 'disconnected');
        expect(['discarded', 'takenover']).toContain(ev.reason);
        if (driver.duplicateId === 'takeover') expect(await first.alive()).toBe(false);
        if (second.ok) expect(await second.device.alive()).toBe(true);
      } else {
        expect(second.ok).toBe(false);
        expect(await first.alive()).toBe(true);
      }
    });

    it(`answers a malformed frame for its sender only (${driver.malformed}); other devices are unaffected`, async () => {
      const bad = await connect(identity());
      const bystander = await connect(identity());
      bad.sendMalformed();
      if (driver.malformed === 'close') {
        const ev = await event(bad.clientId, 'disconnected');
        if (driver.malformedReason !== undefined) expect(ev.reason).toBe(driver.malformedReason);
        expect(await bad.alive()).toBe(false);
      } else {
        await sleep(200);
        expect(await bad.alive()).toBe(true);
      }
      if (driver.pubsub !== false) {
        const topic = `contract/${bystander.clientId}/after-malformed`;
        expect(await bystander.publish(topic, 'still-here', 1)).toBe('ok');
        await app.waitMessages(1, 5000, (m) => m.topic === topic);
      }
      expect(await bystander.alive()).toBe(true);
    });

    it('ends a silent device after its keepalive window with reason keepalive_timeout', async () => {
      const who = identity(1);
      // Before connecting: LwM2M's lifetime runs from the registration itself, without grace.
      const t0 = Date.now();
      await connect(who);
      const ev = await event(who.clientId, 'disconnected', 10_000);
      expect(ev).toMatchObject({ clientid: who.clientId, reason: 'keepalive_timeout' });
      // Not before the 1 s window (x 1.5 where the protocol grants grace), and bounded after it.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    });
  });
}
