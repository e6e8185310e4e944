// The codecs under test, loaded from the build (dist/), the same code the daemon runs.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const dist = (p) => import(join(ROOT, 'dist', p));

export async function loadCodecs() {
  const [frame, hot, validate, coap, sn, stomp, mqttPacket] = await Promise.all([
    dist('src/mqtt/frame.js'),
    dist('src/mqtt/hot-codec.js'),
    dist('src/mqtt/validate.js'),
    dist('gateways/codecs/coap/frame.js'),
    dist('gateways/mqttsn/frame.js'),
    dist('gateways/stomp/frame.js'),
    import('mqtt-packet'),
  ]);
  return { frame, hot, validate, coap, sn, stomp, mqttPacket: mqttPacket.default ?? mqttPacket };
}
