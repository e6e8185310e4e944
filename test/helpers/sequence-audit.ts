// Checks a stream of numbered messages (payloads 0..n-1) as it arrived: what never came, first
// arrivals out of order, and repeats (at-least-once redeliveries).
export function audit(received: number[], n: number): { missing: number; disorder: number; dups: number } {
  const seen = new Set<number>();
  let last = -1;
  let disorder = 0;
  let dups = 0;
  for (const v of received) {
    if (seen.has(v)) {
      dups++;
      continue;
    }
    seen.add(v);
    if (v < last) disorder++;
    last = v;
  }
  let missing = 0;
  for (let i = 0; i < n; i++) if (!seen.has(i)) missing++;
  return { missing, disorder, dups };
}
