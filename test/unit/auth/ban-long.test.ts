// Bans with an `until` far ahead (issue 15: long timers). A ban expires by comparison with the clock,
// never by a timer set to its end, so any horizon works and it survives a restart from the table.
import { afterEach, describe, expect, it } from 'vitest';
import { BanList } from '../../../src/auth/ban-list.js';
import { AUTH_MIGRATIONS } from '../../../src/auth/migrations.js';
import type { Store } from '../../../src/store/store.js';
import { FakeClock, memoryStore } from './fake.js';

const MAX_INTERVAL_MS = (2 ** 32 - 1) * 1000;
const DAY_MS = 86_400_000;

let store: Store | undefined;
afterEach(() => store?.close());

describe('BanList with long horizons', () => {
  it('a ban until now + 2^32-1 s holds through sweeps and a reload, and lapses only at its end', () => {
    const clock = new FakeClock();
    store = memoryStore();
    store.migrate('auth', AUTH_MIGRATIONS);
    const b = new BanList(store.db, () => clock.now());
    const until = clock.now() + MAX_INTERVAL_MS;
    b.add({ as: 'clientid', who: 'far', until });
    b.add({ as: 'clientid', who: 'month', until: clock.now() + 30 * DAY_MS });
    clock.advance(25 * DAY_MS); // past one Node timer's reach
    expect(b.sweep()).toBe(0);
    expect(b.find('far', null, '10.0.0.1')?.until).toBe(until);
    expect(b.find('month', null, '10.0.0.1')).not.toBeNull();
    // A restart reads the table again: same bans, same ends.
    const again = new BanList(store.db, () => clock.now());
    expect(again.find('far', null, '10.0.0.1')?.until).toBe(until);
    clock.advance(5 * DAY_MS);
    expect(again.find('month', null, '10.0.0.1')).toBeNull();
    expect(again.sweep()).toBe(1);
    clock.advance(MAX_INTERVAL_MS - 30 * DAY_MS - 1);
    expect(again.sweep()).toBe(0);
    expect(again.find('far', null, '10.0.0.1')).not.toBeNull();
    clock.advance(1);
    expect(again.find('far', null, '10.0.0.1')).toBeNull();
    expect(again.sweep()).toBe(1);
    expect(new BanList(store.db, () => clock.now()).size()).toBe(0);
  });
});
