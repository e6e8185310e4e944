// Flapping detection (emqx-broker-behaviour.md §7, EMQX emqx_flapping): more than max_count
// disconnections of one client id within window_time bans that client id for ban_time.
import type { FlappingConfig } from './config.js';

interface Track {
  started: number;
  count: number;
  peerHost: string;
}

export interface FlappingHit {
  clientId: string;
  peerHost: string;
  count: number;
  windowMs: number;
  until: number;
}

export class FlappingDetector {
  private readonly tracks = new Map<string, Track>();

  constructor(private cfg: FlappingConfig) {}

  update(cfg: FlappingConfig): void {
    this.cfg = cfg;
    if (!cfg.enable) this.tracks.clear();
  }

  /** Count one disconnection; returns the ban to apply when the client crossed the limit. */
  disconnected(clientId: string, peerHost: string, now: number): FlappingHit | null {
    if (!this.cfg.enable) return null;
    const windowMs = this.cfg.window_time * 1000;
    let t = this.tracks.get(clientId);
    if (!t || now - t.started > windowMs) {
      t = { started: now, count: 0, peerHost };
      this.tracks.set(clientId, t);
    }
    t.count++;
    t.peerHost = peerHost;
    if (t.count > this.cfg.max_count) {
      this.tracks.delete(clientId);
      return { clientId, peerHost, count: t.count, windowMs, until: now + this.cfg.ban_time * 1000 };
    }
    return null;
  }

  /** Forget windows that have ended (called periodically so the map stays bounded). */
  sweep(now: number): void {
    const windowMs = this.cfg.window_time * 1000;
    for (const [k, t] of this.tracks) if (now - t.started > windowMs) this.tracks.delete(k);
  }

  size(): number {
    return this.tracks.size;
  }
}
