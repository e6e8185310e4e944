// One codec's in-process run in a worker thread, so the driver can stop a run that hangs inside a
// codec (an endless loop never returns to an event loop) and go on after the stuck input.
import { parentPort, workerData } from 'node:worker_threads';
import { loadCodecs } from './lib/codecs.mjs';
import { runInProcess } from './lib/inproc.mjs';

const codecs = await loadCodecs();
const progress = new Int32Array(workerData.sab);
parentPort.postMessage(runInProcess(codecs, { ...workerData, progress }));
