// The bystander in a worker thread: its own event loop and heap, so the fuzz driver's own pauses
// (32 sockets, input generation, its GC, CPU starvation on a loaded box) are not counted as the
// daemon answering late. Same interface as startBystander(): a live `stats` and stop().
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { startBystander } from './bystander.mjs';

if (!isMainThread && workerData?.bystanderThread) {
  const at = new Int32Array(workerData.inputAt);
  const by = await startBystander(workerData.port, { ...workerData.opts, context: () => ({ mqtt: Atomics.load(at, 0) }) });
  let last = -1;
  const tick = setInterval(() => {
    const n = by.stats.sent;
    if (n !== last) {
      last = n;
      parentPort.postMessage({ type: 'stats', stats: by.stats });
    }
  }, 200);
  parentPort.on('message', async (m) => {
    if (m !== 'stop') return;
    clearInterval(tick);
    parentPort.postMessage({ type: 'done', result: await by.stop() });
  });
  parentPort.postMessage({ type: 'ready' });
}

/** inputAt: an Int32Array over a SharedArrayBuffer whose [0] the driver sets to the MQTT input in flight. */
export async function startBystanderThread(port, inputAt, opts = {}) {
  const w = new Worker(new URL(import.meta.url), { workerData: { bystanderThread: true, port, opts, inputAt: inputAt.buffer } });
  const handle = { stats: { sent: 0, answered: 0, failed: 0, maxMs: 0, closed: false, errors: [], failures: [] } };
  let done;
  const finished = new Promise((r) => (done = r));
  await new Promise((resolve, reject) => {
    w.on('message', (m) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'stats') handle.stats = m.stats;
      else if (m.type === 'done') done(m.result);
    });
    w.once('error', reject);
  });
  handle.stop = async () => {
    w.postMessage('stop');
    const r = await finished;
    await w.terminate();
    return r;
  };
  return handle;
}
