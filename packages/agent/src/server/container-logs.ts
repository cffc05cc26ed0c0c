/**
 * `GET /containerLogs/{ns}/{pod}/{container}?follow&tailLines&timestamps&sinceSeconds&sinceTime&previous&limitBytes`
 * (the kubelet's endpoint): the container's output as plain text, streamed while following.
 */
import type { ServerResponse } from 'node:http';
import type { Pod } from '@flotilla/api/core';
import type { ContainerInfo, ContainerRuntime } from '../runtime/runtime.js';

/** What the logs endpoint reads. */
export interface ContainerLookup {
  runtime: ContainerRuntime;
  /** The pod from the agent's cache, or undefined when it is not on this node. */
  getPod(namespace: string, name: string): Pod | undefined;
}

/** The instances of a pod's container, newest attempt first. */
export async function containerInstances(lookup: ContainerLookup, pod: Pod, container: string): Promise<ContainerInfo[]> {
  return (await lookup.runtime.listContainers({ podUid: pod.metadata.uid ?? '', all: true })).filter((c) => c.name === container).sort((a, b) => b.restartCount - a.restartCount || b.createdAt - a.createdAt);
}

function text(resp: ServerResponse, code: number, message: string): void {
  resp.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(message);
}

function sinceOf(q: URLSearchParams): Date | undefined {
  const seconds = q.get('sinceSeconds');
  if (seconds && Number(seconds) > 0) return new Date(Date.now() - Number(seconds) * 1000);
  const time = q.get('sinceTime');
  if (time && !Number.isNaN(Date.parse(time))) return new Date(time);
  return undefined;
}

/** Serves one logs request. */
export async function serveContainerLogs(lookup: ContainerLookup, ns: string, name: string, container: string, q: URLSearchParams, resp: ServerResponse): Promise<void> {
  const pod = lookup.getPod(ns, name);
  if (!pod) return text(resp, 404, `pod ${ns}/${name} not found on this node`);
  const previous = q.get('previous') === 'true' || q.get('previous') === '1';
  const instances = await containerInstances(lookup, pod, container);
  const target = previous ? instances[1] : instances[0];
  if (!target) {
    return text(resp, 400, previous ? `previous terminated container "${container}" in pod "${name}" not found` : `container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  }
  const abort = new AbortController();
  resp.on('close', () => abort.abort());
  const tail = q.get('tailLines');
  const limitRaw = q.get('limitBytes');
  let remaining = limitRaw && Number(limitRaw) > 0 ? Number(limitRaw) : Infinity;
  const since = sinceOf(q);
  resp.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  // Headers first, so a following client sees the stream open before the first line.
  resp.flushHeaders();
  try {
    const follow = !previous && (q.get('follow') === 'true' || q.get('follow') === '1');
    for await (const chunk of lookup.runtime.logs(target.id, { follow, timestamps: q.get('timestamps') === 'true', ...(tail && Number(tail) >= 0 ? { tail: Number(tail) } : {}), ...(since ? { since } : {}), signal: abort.signal })) {
      const data = chunk.data.length > remaining ? chunk.data.subarray(0, remaining) : chunk.data;
      remaining -= data.length;
      if (!resp.write(data)) await new Promise((r) => resp.once('drain', r));
      if (remaining <= 0) break;
    }
  } catch {
    // The client went away or the container is gone.
  }
  resp.end();
}
