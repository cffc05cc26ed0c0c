// Watch readers of bench/apiserver-bench.mjs. A reader opens watches and records, for every MODIFIED
// event, the time it was received minus the `bench/sent` annotation the writer put in the patch (ms,
// on the wall clock, so readers in other threads compare with the writer's stamps).
// The readers work on raw bytes: split at newlines, and for MODIFIED lines read the annotation's
// digits in place (the load generator shares the two cores with the server).
// Run in a worker thread (workerData: { base, token, ca, paths }), it says 'open' once its watches are
// open and answers the messages 'reset' (replies with the latencies so far, as a Float64Array, and
// forgets them) and 'stop' (closes the watches; replies with the latencies since the last reset).
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';

const NEWLINE = 0x0a;
const MODIFIED = Buffer.from('{"type":"MODIFIED"');
const SENT = Buffer.from('"bench/sent":"');

/** The send time a MODIFIED event line carries, or undefined. */
function sentTime(line) {
  if (line.compare(MODIFIED, 0, MODIFIED.length, 0, MODIFIED.length) !== 0) return undefined;
  const at = line.indexOf(SENT);
  if (at < 0) return undefined;
  const from = at + SENT.length;
  const to = line.indexOf(0x22, from);
  return Number(line.latin1Slice(from, to));
}

/** Opens one watch of `path` with `dispatcher`; `onLatency(ms)` per MODIFIED event. Returns its closer. */
export async function openWatch(base, path, headers, dispatcher, onLatency) {
  const r = await request(`${base}${path}`, { method: 'GET', dispatcher, headers });
  if (r.statusCode !== 200) throw new Error(`watch ${path}: ${r.statusCode}`);
  let pending;
  r.body.on('data', (chunk) => {
    const now = performance.timeOrigin + performance.now();
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let start = 0;
    let nl;
    while ((nl = data.indexOf(NEWLINE, start)) >= 0) {
      const sent = sentTime(data.subarray(start, nl));
      if (sent !== undefined) onLatency(now - sent);
      start = nl + 1;
    }
    if (start < data.length) pending = data.subarray(start);
  });
  r.body.on('error', () => {});
  return () => r.body.destroy();
}

/** A dispatcher for long-lived watch streams to a server with this CA. */
export function watchDispatcher(ca) {
  return new Agent({ connect: { ca }, connections: null, pipelining: 0, bodyTimeout: 0, headersTimeout: 0 });
}

if (!isMainThread && workerData?.paths) {
  const { base, token, ca, paths } = workerData;
  const dispatcher = watchDispatcher(ca);
  const headers = { authorization: `Bearer ${token}` };
  let lat = [];
  const closers = [];
  for (const path of paths) closers.push(await openWatch(base, path, headers, dispatcher, (ms) => lat.push(ms)));
  parentPort.on('message', async (m) => {
    if (m === 'reset') {
      const out = Float64Array.from(lat);
      lat = [];
      parentPort.postMessage(out, [out.buffer]);
    } else if (m === 'stop') {
      for (const c of closers) c();
      const out = Float64Array.from(lat);
      parentPort.postMessage(out, [out.buffer]);
      await dispatcher.destroy();
      parentPort.close();
    }
  });
  parentPort.postMessage('open');
}
