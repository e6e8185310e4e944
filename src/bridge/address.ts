// Upstream server addresses as written in config (Mosquitto `address`, EMQX `server`, NanoMQ
// `mqtt-tcp://`, URLs). Pure: used by config validation and by the link.

export interface ServerAddress {
  host: string;
  port: number;
  tls: boolean;
  /** As written in the config, for logs and status. */
  text: string;
}

/** "host:port", "[v6]:port", "mqtt://host:port", "mqtts://…", "ssl://…", "tls://…", "tcp://…". Null when malformed. */
export function parseServer(text: string, tlsDefault: boolean): ServerAddress | null {
  const m = /^(?:([a-z]+):\/\/)?(\[[^\]\s]+\]|[^:/[\]\s]+)(?::(\d+))?\/?$/i.exec(text.trim());
  if (!m) return null;
  const scheme = (m[1] ?? '').toLowerCase();
  let tls = tlsDefault;
  if (scheme === 'mqtts' || scheme === 'ssl' || scheme === 'tls') tls = true;
  else if (scheme === 'mqtt' || scheme === 'tcp') tls = tlsDefault;
  else if (scheme !== '') return null;
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  const port = m[3] !== undefined ? Number(m[3]) : tls ? 8883 : 1883;
  if (port < 1 || port > 65535) return null;
  return { host, port, tls, text };
}
