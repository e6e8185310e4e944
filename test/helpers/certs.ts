// Test PKI made with the openssl binary in a fresh temp dir: a CA, a server certificate for
// localhost/127.0.0.1, a client certificate from that CA, and a client certificate from a second,
// untrusted CA (for mTLS rejection tests). EC P-256 keys keep generation fast.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Signed by another CA the server does not trust. */
  rogueCert: string;
  rogueKey: string;
  /** File contents, for clients that take buffers (MQTT.js). */
  read(path: string): Buffer;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/O=Outpost Test/CN=${cn}`]);
}

function makeLeaf(dir: string, name: string, ca: string, subj: string, san: string, usage: 'serverAuth' | 'clientAuth'): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** Generate the PKI; `clientCn` is the client certificate's common name. */
export function makeTestPki(clientCn = 'client1'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-pki-'));
  makeCa(dir, 'ca', 'Outpost Test CA');
  makeCa(dir, 'rogue-ca', 'Rogue CA');
  makeLeaf(dir, 'server', 'ca', '/O=Outpost Test/CN=localhost', 'DNS:localhost,IP:127.0.0.1', 'serverAuth');
  makeLeaf(dir, 'client', 'ca', `/C=DE/O=Outpost Test/CN=${clientCn}`, `DNS:${clientCn}.devices.local`, 'clientAuth');
  makeLeaf(dir, 'rogue', 'rogue-ca', '/O=Rogue/CN=rogue', 'DNS:rogue.local', 'clientAuth');
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caFile: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    rogueCert: p('rogue.pem'),
    rogueKey: p('rogue.key'),
    read: (path) => readFileSync(path),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A second server certificate from the same CA with another CN (certificate reload tests). */
export function reissueServerCert(pki: TestPki, cn: string): void {
  makeLeaf(pki.dir, 'server', 'ca', `/O=Outpost Test/CN=${cn}`, 'DNS:localhost,IP:127.0.0.1', 'serverAuth');
}
