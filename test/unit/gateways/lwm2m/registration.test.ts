// Register/Update parameter checks (spec A.2, A.6).
import { describe, expect, it } from 'vitest';
import { applyUpdate, checkRegister, isQueueMode, queryMap, type RegisterRules } from '../../../../gateways/lwm2m/registration.js';

const rules: RegisterRules = { lifetimeMax: 86400, requireLt: false, refuse12: false };
const links = Buffer.from('</lwm2m>;rt="oma.lwm2m";ct=110,</lwm2m/1/0>,</lwm2m/3/0>,</lwm2m/5>');

describe('checkRegister', () => {
  it('takes ep, lt, lwm2m, b and the object list with its alternate path', () => {
    const r = checkRegister(['ep=dev42', 'lt=300', 'lwm2m=1.0', 'b=U'], links, rules);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.reg).toMatchObject({ location: 'dev42', endpoint: 'dev42', clientId: 'dev42', lifetime: 300, version: '1.0', binding: 'U', queueMode: false });
    expect(r.reg.links).toEqual({ alternatePath: '/lwm2m', contentFormats: [110], objects: [{ path: '/1/0', objectId: 1, instanceId: 0 }, { path: '/3/0', objectId: 3, instanceId: 0 }, { path: '/5', objectId: 5 }] });
  });

  it('device_id overrides the client id, imei is the username', () => {
    const r = checkRegister(['ep=e1', 'device_id=d1', 'imei=359'], Buffer.alloc(0), rules);
    expect(r.ok && [r.reg.clientId, r.reg.imei, r.reg.location]).toEqual(['d1', '359', 'e1']);
  });

  it('missing ep, bad lt -> 4.00 invalid queries; lt absent is 86400 unless EMQX mode requires it; lt=0 is lifetime_max', () => {
    expect(checkRegister(['lt=60'], Buffer.alloc(0), rules)).toEqual({ ok: false, code: 128, message: 'Login Failed: invalid queries' });
    expect(checkRegister(['ep=a', 'lt=x'], Buffer.alloc(0), rules)).toMatchObject({ ok: false, message: 'Login Failed: invalid queries' });
    const noLt = checkRegister(['ep=a'], Buffer.alloc(0), rules);
    expect(noLt.ok && noLt.reg.lifetime).toBe(86400);
    expect(checkRegister(['ep=a'], Buffer.alloc(0), { ...rules, requireLt: true })).toMatchObject({ ok: false, message: 'Login Failed: invalid queries' });
    const zero = checkRegister(['ep=a', 'lt=0'], Buffer.alloc(0), { ...rules, lifetimeMax: 777 });
    expect(zero.ok && zero.reg.lifetime).toBe(777);
  });

  it('serves lwm2m=1.2 as 1.1 unless refused (EMQX), refuses unknown versions', () => {
    const r = checkRegister(['ep=a', 'lwm2m=1.2'], Buffer.alloc(0), rules);
    expect(r.ok && [r.reg.version, r.reg.clientVersion]).toEqual(['1.1', '1.2']);
    expect(checkRegister(['ep=a', 'lwm2m=1.2'], Buffer.alloc(0), { ...rules, refuse12: true })).toMatchObject({ ok: false, message: 'Login Failed: invalid lwm2m version' });
    expect(checkRegister(['ep=a', 'lwm2m=2.0'], Buffer.alloc(0), rules)).toMatchObject({ ok: false, message: 'Login Failed: invalid lwm2m version' });
  });

  it('a malformed object list is 4.00', () => {
    expect(checkRegister(['ep=a'], Buffer.from('</1/0'), rules)).toMatchObject({ ok: false, code: 128 });
  });
});

describe('queue mode and update', () => {
  it('is the Q letter of a 1.0 binding or the 1.1 Q parameter', () => {
    expect(isQueueMode('UQ', {})).toBe(true);
    expect(isQueueMode('UQS', {})).toBe(true);
    expect(isQueueMode('U', queryMap(['Q']))).toBe(true);
    expect(isQueueMode('U', {})).toBe(false);
  });

  it('merges lt, b and a new object list, keeps the rest', () => {
    const r = checkRegister(['ep=a', 'lt=60', 'b=U', 'sms=123'], links, rules);
    if (!r.ok) throw new Error('register');
    const u = applyUpdate(r.reg, ['lt=600', 'b=UQ'], Buffer.alloc(0), rules);
    expect(u.ok && [u.reg.lifetime, u.reg.binding, u.reg.queueMode, u.reg.query.sms, u.reg.links?.objects.length]).toEqual([600, 'UQ', true, '123', 3]);
    const u2 = applyUpdate(r.reg, [], Buffer.from('</3/0>'), rules);
    expect(u2.ok && u2.reg.links?.objects.map((o) => o.path)).toEqual(['/3/0']);
    expect(applyUpdate(r.reg, ['lt=-1'], Buffer.alloc(0), rules).ok).toBe(false);
  });
});
