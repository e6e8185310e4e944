// What every page gets: its container, the route's parameters, polling that stops when the page is
// left, and one place to show an error.
import { ApiError } from './api.js';
import { h } from './dom.js';

export interface PageCtx {
  root: HTMLElement;
  params: string[];
  /** Run now and then every `ms` while the page is shown; a slow call is not stacked. */
  every(ms: number, fn: () => Promise<void>): void;
  onLeave(fn: () => void): void;
  /** Show an error (or clear it with null). */
  error(err: unknown): void;
}

export type PageFn = (ctx: PageCtx) => void;

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export function createPage(root: HTMLElement, params: string[]): PageCtx & { leave(): void } {
  const cleanups: (() => void)[] = [];
  const banner = h('div', { class: 'error', role: 'alert', hidden: true });
  root.replaceChildren(banner);
  let left = false;
  const ctx = {
    root,
    params,
    every(ms: number, fn: () => Promise<void>) {
      let busy = false;
      const tick = async () => {
        if (busy || left) return;
        busy = true;
        try {
          await fn();
        } catch (err) {
          ctx.error(err);
        } finally {
          busy = false;
        }
      };
      void tick();
      const t = setInterval(tick, ms);
      cleanups.push(() => clearInterval(t));
    },
    onLeave(fn: () => void) {
      cleanups.push(fn);
    },
    error(err: unknown) {
      if (err === null) {
        banner.hidden = true;
        return;
      }
      banner.textContent = messageOf(err);
      banner.hidden = false;
    },
    leave() {
      left = true;
      for (const fn of cleanups.splice(0)) fn();
    },
  };
  return ctx;
}
