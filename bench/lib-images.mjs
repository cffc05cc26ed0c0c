// The local test images for benchmarks (plain .mjs, no TS loader): the same names and the agent's
// own recipes as test/harness/test-image.ts (`packages/agent/dist`: ensureBusyboxImage,
// ensurePauseImage; run `npx -y pnpm@10 build` first). Idempotent: an image whose recipe label matches is
// reused, so the tests and the benchmarks share one build.
//
// - `flotilla-test/busybox:1`: static busybox + applet symlinks, default command `/bin/sh`.
// - `flotilla-test/pause:1`: the agent's pause image (sleeps forever, exits 0 on SIGTERM at once).
import { join } from 'node:path';
import { PAUSE_IMAGE, ROOT, TEST_IMAGE, TEST_LABEL, waitUntil } from './lib.mjs';

export { PAUSE_IMAGE, TEST_IMAGE, TEST_LABEL };

const BUSYBOX = '/usr/bin/busybox';

/** The compiled agent's runtime exports (DockerClient, ensureBusyboxImage, ensurePauseImage, ...). */
export async function agentRuntime() {
  return import(join(ROOT, 'packages/agent/dist/index.js'));
}

/** Builds (or reuses) both test images; resolves with their names and whether either was built. */
export async function ensureTestImages() {
  const { DockerClient, ensureBusyboxImage, ensurePauseImage } = await agentRuntime();
  const client = new DockerClient();
  try {
    const id = (ref) => client.inspectImage(ref).then((i) => i.Id, () => undefined);
    const before = [await id(TEST_IMAGE), await id(PAUSE_IMAGE)];
    const labels = { [TEST_LABEL]: 'true' };
    const test = await ensureBusyboxImage(client, TEST_IMAGE, { busyboxPath: BUSYBOX, labels });
    const pause = await ensurePauseImage(client, PAUSE_IMAGE, { busyboxPath: BUSYBOX, labels });
    const after = [await id(TEST_IMAGE), await id(PAUSE_IMAGE)];
    return { test, pause, built: before[0] !== after[0] || before[1] !== after[1] };
  } finally {
    await client.close();
  }
}

/** Force-removes the containers carrying all of `labels` (app containers first: they hold their sandbox's namespaces), a few at a time; resolves how many there were. */
export async function removeLabelled(engine, labels) {
  const list = await engine.listContainers({ all: true, filters: { label: labels } });
  list.sort((a, b) => Number(b.HostConfig?.NetworkMode?.startsWith('container:') ?? false) - Number(a.HostConfig?.NetworkMode?.startsWith('container:') ?? false));
  for (let i = 0; i < list.length; i += 8) await Promise.all(list.slice(i, i + 8).map((c) => engine.removeContainer(c.Id, { force: true, volumes: true }).catch(() => undefined)));
  return list.length;
}

/** Removes exactly the containers the agent of `nodeName` made (test label and node name). */
export function removeNodeContainers(engine, nodeName) {
  return removeLabelled(engine, nodeLabels(nodeName));
}

/** The labels of a node's test containers. */
function nodeLabels(nodeName) {
  return [`${TEST_LABEL}=true`, `io.flotilla.node=${nodeName}`];
}

/**
 * A Deployment named `web` of `replicas` busybox httpd pods bound to `node`, label app=web, serving
 * /www (written by the shell command `index`) on `port`; `declarePort` lists it as a containerPort.
 */
export function httpdDeployment({ node, replicas, port, index, declarePort = false }) {
  return {
    metadata: { name: 'web' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', `mkdir -p /www && ${index} && exec httpd -f -p ${port} -h /www`], ...(declarePort ? { ports: [{ containerPort: port }] } : {}) }],
        },
      },
    },
  };
}

/**
 * Waits until the `replicas` pods of an httpdDeployment in `namespace` are Running with IPs, each
 * answers `http://IP:port/path` and the Service's EndpointSlices list as many ready endpoints;
 * resolves the pod IPs in pod-name order. `client` is a RestClient, `res` its resource helper.
 */
export async function waitHttpdPods(client, res, { namespace, replicas, port, path = '/', timeoutMs = 90_000 }) {
  const wait = (what, fn) => waitUntil(what, fn, { timeoutMs, intervalMs: 250 });
  const podIPs = await wait(`${replicas} pods with IPs`, async () => {
    const pods = (await client.list(res('pods'), { namespace })).items.filter((p) => p.status?.phase === 'Running' && p.status?.podIP);
    return pods.length === replicas ? pods.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)).map((p) => p.status.podIP) : undefined;
  });
  for (const ip of podIPs) await wait(`pod ${ip} serving`, async () => (await fetch(`http://${ip}:${port}${path}`)).ok);
  await wait(`${replicas} ready endpoints`, async () => {
    const slices = (await client.list(res('endpointslices.discovery.k8s.io'), { namespace })).items;
    return slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length === replicas;
  });
  return podIPs;
}

/** Ids of the test containers (all states) of node `nodeName`. */
export async function nodeContainerIds(engine, nodeName) {
  return (await engine.listContainers({ all: true, filters: { label: nodeLabels(nodeName) } })).map((c) => c.Id);
}
