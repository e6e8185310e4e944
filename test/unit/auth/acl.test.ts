import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { matchRules, parseAcl, type AclSubject } from '../../../src/auth/acl.js';
import { AuthError } from '../../../src/auth/errors.js';
import type { AuthzAction, QoS } from '../../../src/core/types.js';

const rules = parseAcl(readFileSync(new URL('./fixtures/acl.conf', import.meta.url), 'utf8'), 'acl.conf');

const c = (clientId: string, username: string | null = null, peerHost = '192.0.2.10', certCommonName?: string): AclSubject => ({ clientId, username, peerHost, certCommonName });

interface Row {
  name: string;
  who: AclSubject;
  action: AuthzAction;
  topic: string;
  qos?: QoS;
  retain?: boolean;
  expect: 'allow' | 'deny';
  /** Line in fixtures/acl.conf of the deciding rule. */
  line: number;
}

const table: Row[] = [
  { name: 'placeholder: own device topic', who: c('c1'), action: 'publish', topic: 'devices/c1/x', expect: 'allow', line: 10 },
  { name: 'placeholder: other device topic falls to {deny, all}', who: c('c1'), action: 'publish', topic: 'devices/c2/x', expect: 'deny', line: 15 },
  { name: 'placeholder: client id "+" is literal, not a wildcard', who: c('+'), action: 'publish', topic: 'devices/c2/x', expect: 'deny', line: 15 },
  { name: 'placeholder: client id "+" on its own literal topic', who: c('+'), action: 'publish', topic: 'devices/+/x', expect: 'allow', line: 10 },
  { name: 'username placeholder', who: c('c1', 'alice'), action: 'publish', topic: 'users/alice/up', expect: 'allow', line: 10 },
  { name: 'username placeholder without a username does not render', who: c('c1'), action: 'publish', topic: 'users//up', expect: 'deny', line: 15 },
  { name: 'cert_common_name placeholder', who: c('c1', null, '192.0.2.10', 'dev-7'), action: 'subscribe', topic: 'certs/dev-7', expect: 'allow', line: 11 },
  { name: '${$} escapes a dollar', who: c('c1'), action: 'subscribe', topic: 'price/$/x', expect: 'allow', line: 12 },
  { name: 'subscribe own command topic', who: c('c9'), action: 'subscribe', topic: 'devices/c9/cmd', expect: 'allow', line: 11 },
  { name: 'loopback may subscribe to $SYS', who: c('m', null, '127.0.0.1'), action: 'subscribe', topic: '$SYS/brokers/#', expect: 'allow', line: 3 },
  { name: 'IPv4-mapped loopback matches too', who: c('m', null, '::ffff:127.0.0.1'), action: 'subscribe', topic: '$SYS/#', expect: 'allow', line: 3 },
  { name: 'dashboard user may subscribe to $SYS', who: c('d', 'dashboard'), action: 'subscribe', topic: '$SYS/brokers', expect: 'allow', line: 2 },
  { name: 'others are denied $SYS', who: c('x'), action: 'subscribe', topic: '$SYS/brokers', expect: 'deny', line: 13 },
  { name: '{eq, "#"} blocks literal # subscription', who: c('x'), action: 'subscribe', topic: '#', expect: 'deny', line: 13 },
  { name: '{eq, "+/#"} blocks literal +/# subscription', who: c('x'), action: 'subscribe', topic: '+/#', expect: 'deny', line: 13 },
  { name: 'rule "#" covers an ordinary filter', who: c('x'), action: 'subscribe', topic: 'a/b/#', expect: 'allow', line: 14 },
  { name: 'rule "public/+/status" covers a filter literally', who: c('x'), action: 'subscribe', topic: 'public/+/status', expect: 'allow', line: 14 },
  { name: 'clientid deny beats later allows', who: c('evil', null, '127.0.0.1'), action: 'publish', topic: 'devices/evil/x', expect: 'allow', line: 3 },
  { name: 'clientid deny when not on loopback', who: c('evil'), action: 'publish', topic: 'devices/evil/x', expect: 'deny', line: 4 },
  { name: 'CIDR ipaddrs: inside 10.1/16', who: c('l', null, '10.1.200.3'), action: 'subscribe', topic: 'lan/temp', expect: 'allow', line: 5 },
  { name: 'CIDR ipaddrs: outside 10.1/16 falls past the CIDR rule', who: c('l', null, '10.2.0.3'), action: 'subscribe', topic: 'lan/temp', expect: 'allow', line: 14 },
  { name: 'CIDR ipaddrs: IPv6 fd00::/8', who: c('l', null, 'fd12::5'), action: 'subscribe', topic: 'lan/x', expect: 'allow', line: 5 },
  { name: 'and: user + CIDR both match', who: c('o', 'ops', '192.168.7.44'), action: 'publish', topic: 'ops/cmd', expect: 'allow', line: 6 },
  { name: 'and: right user, wrong network', who: c('o', 'ops', '192.168.8.44'), action: 'publish', topic: 'ops/cmd', expect: 'deny', line: 15 },
  { name: 'or: either client', who: c('a2'), action: 'publish', topic: 'shared/ab', expect: 'allow', line: 7 },
  { name: 'retain condition: retained publish to cmd denied', who: c('z'), action: 'publish', topic: 'cmd/reboot', retain: true, expect: 'deny', line: 8 },
  { name: 'qos condition: QoS 1 to cmd allowed', who: c('z'), action: 'publish', topic: 'cmd/reboot', qos: 1, expect: 'allow', line: 9 },
  { name: 'qos condition: QoS 2 to cmd falls through', who: c('z'), action: 'publish', topic: 'cmd/reboot', qos: 2, expect: 'deny', line: 15 },
  { name: 'publish action rule does not allow subscribe', who: c('c1'), action: 'subscribe', topic: 'devices/c1/x', expect: 'allow', line: 14 },
  { name: '$-topic is not matched by a leading "#" rule', who: c('x'), action: 'subscribe', topic: '$share/g/t', expect: 'deny', line: 15 },
];

describe('acl.conf matching (table from fixtures/acl.conf, first match wins)', () => {
  for (const r of table) {
    it(`${r.name}: ${r.action} ${r.topic} -> ${r.expect}`, () => {
      const m = matchRules(rules, r.who, r.action, r.topic, r.qos ?? 0, r.retain ?? false);
      expect(m).not.toBeNull();
      expect(m!.permission).toBe(r.expect);
      expect(m!.origin).toBe(`acl.conf:${r.line}`);
    });
  }

  it('the catch-all {allow, all} never opens $SYS subscriptions', () => {
    const open = parseAcl('{allow, all}.');
    expect(matchRules(open, c('x'), 'subscribe', '$SYS/brokers', 0, false)).toBeNull();
    expect(matchRules(open, c('x'), 'publish', 'a/b', 0, false)?.permission).toBe('allow');
  });
});

describe('acl.conf parse errors name the line', () => {
  const bad: [string, RegExp][] = [
    ['{allow, all}', /line 1: expected '\.'/],
    ['\n{allow, {user, 42}, publish, ["t"]}.', /line 2: username must be a "string"/],
    ['{allow, all, publish, ["a/#/b"]}.', /'#' must be the last level/],
    ['{allow, {ipaddr, "10.0.0.0/33"}, publish, ["t"]}.', /bad address or CIDR/],
    ['{allow, all, publish, ["${nope}"]}.', /unknown placeholder/],
    ['{maybe, all}.', /a rule is/],
    ['{allow, all, {publish, [{qos, 3}]}, ["t"]}.', /qos must be 0, 1 or 2/],
    ['{allow, "x', /unterminated string/],
    ['{allow, {client_attr, "a", "b"}, publish, ["t"]}.', /client_attr is not supported/],
  ];
  for (const [text, re] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      let err: unknown;
      try {
        parseAcl(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AuthError);
      expect((err as AuthError).code).toBe('OUTPOST_ERR_AUTH_ACL_SYNTAX');
      expect((err as Error).message).toMatch(re);
    });
  }
});
