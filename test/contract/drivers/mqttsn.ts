// The contract's MQTT-SN 1.2 device over real UDP. MQTT-SN 1.2 has no credential fields: the
// gateway takes the identity from `clientinfo_override` (EMQX's way), here username = client id and
// one shared password, so a device named after a user in the store authenticates and any other
// name is refused. There is no anonymous MQTT-SN device in this setup (canBeAnonymous: false);
// anonymous refusal without an override is pinned in test/integration/coap-auth.test.ts.
import { ReturnCode, type Frame } from '../../../gateways/mqttsn/frame.js';
import type { Daemon } from '../../helpers/daemon.js';
import { SnClient } from '../../helpers/mqttsn-client.js';
import { PASSWORD, type ConnectResult, type ContractDevice, type GatewayDriver, type Identity } from '../gateway-contract.js';

class MqttsnContractDevice implements ContractDevice {
  /** Topic ids the gateway told this device about (SUBACK, REGISTER). */
  private readonly names = new Map<number, string>();
  constructor(
    private readonly sn: SnClient,
    readonly clientId: string,
  ) {}

  async publish(topic: string, payload: string, qos: 0 | 1): Promise<'ok' | 'refused'> {
    const reg = await this.sn.register(topic);
    if (reg.rc !== ReturnCode.ACCEPTED) return 'refused';
    const msgId = this.sn.publish({ topicId: reg.topicId, qos, payload });
    if (qos === 0) return 'ok';
    const ack = await this.sn.next('puback');
    if (ack.msgId !== msgId) throw new Error(`PUBACK for ${ack.msgId}, expected ${msgId}`);
    return ack.rc === ReturnCode.ACCEPTED ? 'ok' : 'refused';
  }

  async subscribe(topic: string, qos: 0 | 1): Promise<'ok' | 'refused'> {
    const a = await this.sn.subscribe({ name: topic }, qos);
    if (a.rc !== ReturnCode.ACCEPTED) return 'refused';
    if (a.topicId !== 0) this.names.set(a.topicId, topic);
    return 'ok';
  }

  async nextMessage(ms: number): Promise<{ topic: string; payload: string } | null> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      let f: Frame;
      try {
        f = await this.sn.any(deadline - Date.now());
      } catch {
        return null;
      }
      if (f.type === 'register') {
        // A wildcard match: the gateway names the topic first (MQTT-SN 1.2 §6.10).
        this.names.set(f.topicId, f.topicName);
        this.sn.send({ type: 'regack', topicId: f.topicId, msgId: f.msgId, rc: ReturnCode.ACCEPTED });
      } else if (f.type === 'publish') {
        if (f.qos === 1) this.sn.send({ type: 'puback', topicId: f.topicId, msgId: f.msgId, rc: ReturnCode.ACCEPTED });
        return { topic: this.names.get(f.topicId) ?? `#${f.topicId}`, payload: f.payload.toString() };
      }
    }
    return null;
  }

  /** PINGREQ answered with PINGRESP while the session lives; a gateway that ended it does not answer so. */
  async alive(): Promise<boolean> {
    this.sn.send({ type: 'pingreq', clientId: null });
    try {
      await this.sn.next('pingresp', 1000);
      return true;
    } catch {
      return false;
    }
  }

  sendMalformed(): void {
    // A length field (8) longer than the datagram (3 bytes): the codec must refuse it (§5.2.1).
    this.sn.wire.send(Buffer.from([0x08, 0x16, 0x00]));
  }

  close(): Promise<void> {
    return this.sn.close();
  }
}

export const mqttsnDriver: GatewayDriver = {
  name: 'mqttsn',
  sysName: 'mqtt-sn',
  config: `
[gateway.mqttsn]
enable = true
[gateway.mqttsn.clientinfo_override]
username = "\${clientid}"
password = "${PASSWORD}"
[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`,
  canBeAnonymous: false,
  duplicateId: 'takeover',
  malformed: 'close',
  malformedReason: 'malformed_packet',
  // `who.username`/`who.password` cannot travel in MQTT-SN 1.2: the client id stands for both.
  async connect(d: Daemon, who: Identity): Promise<ConnectResult> {
    const sn = await SnClient.udp(d.ports['mqttsn:udp:default']!);
    const rc = await sn.connect(who.clientId, { duration: who.keepalive ?? 60 }).catch((e: Error) => e);
    if (rc !== ReturnCode.ACCEPTED) {
      await sn.close();
      return { ok: false, detail: rc instanceof Error ? rc.message : `CONNACK rc ${rc}` };
    }
    return { ok: true, device: new MqttsnContractDevice(sn, who.clientId) };
  },
};
