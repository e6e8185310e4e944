// Apart from config.ts (zod): the API's start path (lazy.ts) needs only this, and the daemon keeps
// zod out of its process until the first API request (config is validated in a child process).
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
