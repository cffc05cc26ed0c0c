// Watch readers of bench/apiserver-bench.mjs. A reader opens watches and records, for every MODIFIED
// event, the `bench/sent` annotation the writer put in the patch, the time from it to the event's
// arrival (ms, on the wall clock, so readers in other threads compare with the writer's stamps), the
// event's resourceVersion and its arrival on the machine's monotonic clock (ms; the clock of the API
// server's --commit-times-file, so the bench can time each event from its commit).
// The readers work on raw bytes: split at newlines, and for MODIFIED lines read the annotation's
// digits in place (the load generator shares the two cores with the server).
// Run in a worker thread (workerData: { base, token, ca, paths }), it says 'open' once its watches are
// open and answers 'stop' by closing them and replying with the [sent, latency, rv, arrivedMono]
// records, flattened into a Float64Array.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';

const NEWLINE = 0x0a;
const MODIFIED = Buffer.from('{"type":"MODIFIED"');
const SENT = Buffer.from('"bench/sent":"');
const RESOURCE_VERSION = Buffer.from('"resourceVersion":"');

/** The first resourceVersion in an event line (the object's: metadata comes before anything nested). */
function resourceVersion(line) {
  const at = line.indexOf(RESOURCE_VERSION);
  if (at < 0) return NaN;
  const from = at + RESOURCE_VERSION.length;
  return Number(line.latin1Slice(from, line.indexOf(0x22, from)));
}

/** The send time a MODIFIED event line carries, or undefined. */
function sentTime(line) {
  if (line.compare(MODIFIED, 0, MODIFIED.length, 0, MODIFIED.length) !== 0) return undefined;
  const at = line.indexOf(SENT);
  if (at < 0) return undefined;
  const from = at + SENT.length;
  const to = line.indexOf(0x22, from);
  return Number(line.latin1Slice(from, to));
}

/** Opens one watch of `path` with `dispatcher`; `onEvent(sent, ms, rv, arrivedMono)` per MODIFIED event. Returns its closer. */
export async function openWatch(base, path, headers, dispatcher, onEvent) {
  const r = await request(`${base}${path}`, { method: 'GET', dispatcher, headers });
  if (r.statusCode !== 200) throw new Error(`watch ${path}: ${r.statusCode}`);
  let pending;
  r.body.on('data', (chunk) => {
    const now = performance.timeOrigin + performance.now();
    const mono = Number(process.hrtime.bigint()) / 1e6;
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let start = 0;
    let nl;
    while ((nl = data.indexOf(NEWLINE, start)) >= 0) {
      const line = data.subarray(start, nl);
      const sent = sentTime(line);
      if (sent !== undefined) onEvent(sent, now - sent, resourceVersion(line), mono);
      start = nl + 1;
    }
    if (start < data.length) pending = data.subarray(start);
  });
  r.body.on('error', () => {});
  return () => r.body.destroy();
}

/** Opens every path as a watch; `close()` ends them. `pairs` collects [sent, latency, rv, arrivedMono] per event, flattened. */
export async function openWatches(base, paths, headers, dispatcher) {
  const pairs = [];
  const closers = [];
  for (const path of paths) closers.push(await openWatch(base, path, headers, dispatcher, (sent, ms, rv, mono) => pairs.push(sent, ms, rv, mono)));
  return { pairs, close: () => closers.forEach((c) => c()) };
}

/** A dispatcher for long-lived watch streams to a server with this CA. */
export function watchDispatcher(ca) {
  return new Agent({ connect: { ca }, connections: null, pipelining: 0, bodyTimeout: 0, headersTimeout: 0 });
}

if (!isMainThread && workerData?.paths) {
  const { base, token, ca, paths } = workerData;
  const dispatcher = watchDispatcher(ca);
  const headers = { authorization: `Bearer ${token}` };
  const watches = await openWatches(base, paths, headers, dispatcher);
  parentPort.on('message', async (m) => {
    if (m !== 'stop') return;
    watches.close();
    const out = Float64Array.from(watches.pairs);
    parentPort.postMessage(out, [out.buffer]);
    await dispatcher.destroy();
    parentPort.close();
  });
  parentPort.postMessage('open');
}
