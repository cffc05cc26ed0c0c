/**
 * Resource arithmetic of the scheduler: requests and allocatable as plain integers (milli-CPU,
 * bytes, counts) so fit checks in the hot loop never parse quantities.
 */
import { parseQuantity } from '@flotilla/api';

/** A resource vector. Unknown extended resources are kept by name in `scalar`. */
export interface Resources {
  milliCpu: number;
  memory: number;
  ephemeralStorage: number;
  pods: number;
  scalar: Record<string, number>;
}

/** An empty vector. */
export function zeroResources(): Resources {
  return { milliCpu: 0, memory: 0, ephemeralStorage: 0, pods: 0, scalar: {} };
}

function toNumber(v: string | number, milli: boolean): number {
  const q = parseQuantity(v);
  return Number(milli ? q.toMilli() : q.value());
}

/** Parses a ResourceList (`{cpu: "500m", memory: "1Gi"}`) into a vector. Bad values count as 0. */
export function resourcesFromList(list: Readonly<Record<string, string | number>> | undefined): Resources {
  const r = zeroResources();
  if (!list) return r;
  for (const [name, v] of Object.entries(list)) {
    try {
      switch (name) {
        case 'cpu':
          r.milliCpu = toNumber(v, true);
          break;
        case 'memory':
          r.memory = toNumber(v, false);
          break;
        case 'ephemeral-storage':
          r.ephemeralStorage = toNumber(v, false);
          break;
        case 'pods':
          r.pods = toNumber(v, false);
          break;
        default:
          r.scalar[name] = toNumber(v, false);
      }
    } catch {
      // An unparseable quantity was rejected by the API server's validation; treat as absent.
    }
  }
  return r;
}

/** a += b. */
export function addResources(a: Resources, b: Resources): void {
  a.milliCpu += b.milliCpu;
  a.memory += b.memory;
  a.ephemeralStorage += b.ephemeralStorage;
  a.pods += b.pods;
  for (const [k, v] of Object.entries(b.scalar)) a.scalar[k] = (a.scalar[k] ?? 0) + v;
}

/** a -= b. */
export function subtractResources(a: Resources, b: Resources): void {
  a.milliCpu -= b.milliCpu;
  a.memory -= b.memory;
  a.ephemeralStorage -= b.ephemeralStorage;
  a.pods -= b.pods;
  for (const [k, v] of Object.entries(b.scalar)) a.scalar[k] = (a.scalar[k] ?? 0) - v;
}

/** Element-wise max. */
function maxResources(a: Resources, b: Resources): Resources {
  const r: Resources = { milliCpu: Math.max(a.milliCpu, b.milliCpu), memory: Math.max(a.memory, b.memory), ephemeralStorage: Math.max(a.ephemeralStorage, b.ephemeralStorage), pods: 0, scalar: { ...a.scalar } };
  for (const [k, v] of Object.entries(b.scalar)) r.scalar[k] = Math.max(r.scalar[k] ?? 0, v);
  return r;
}

interface ContainerResources {
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  restartPolicy?: string;
}

/** The pod spec fields request computation reads. */
export interface PodResourceSpec {
  containers?: ContainerResources[];
  initContainers?: ContainerResources[];
  overhead?: Record<string, string | number>;
}

/**
 * A pod's effective request, as kube-scheduler computes it: the sum over containers (requests, or
 * limits when requests are absent), at least the largest init container, plus overhead; `pods` = 1.
 */
export function podRequests(spec: PodResourceSpec | undefined): Resources {
  const sum = zeroResources();
  const sidecars = zeroResources();
  for (const c of spec?.containers ?? []) addResources(sum, resourcesFromList(c.resources?.requests ?? c.resources?.limits));
  let initMax = zeroResources();
  for (const c of spec?.initContainers ?? []) {
    const req = resourcesFromList(c.resources?.requests ?? c.resources?.limits);
    if (c.restartPolicy === 'Always') {
      addResources(sidecars, req);
      initMax = maxResources(initMax, sidecars);
    } else {
      const withSidecars = zeroResources();
      addResources(withSidecars, req);
      addResources(withSidecars, sidecars);
      initMax = maxResources(initMax, withSidecars);
    }
  }
  addResources(sum, sidecars);
  const r = maxResources(sum, initMax);
  if (spec?.overhead) addResources(r, resourcesFromList(spec.overhead));
  r.pods = 1;
  return r;
}

/** Default requests used for scoring pods that request nothing (kube-scheduler's non-zero defaults). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** Requests for scoring: zero CPU/memory requests count as the defaults, so empty pods still spread. */
export function nonZeroRequests(r: Resources): { milliCpu: number; memory: number } {
  return { milliCpu: r.milliCpu === 0 ? DEFAULT_MILLI_CPU_REQUEST : r.milliCpu, memory: r.memory === 0 ? DEFAULT_MEMORY_REQUEST : r.memory };
}
