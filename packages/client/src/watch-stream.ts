/**
 * Parses a Kubernetes watch stream (one JSON event per line, split arbitrarily across chunks).
 */
import type { KubeObject, WatchEvent } from '@flotilla/api/core';

/** Yields the events of a newline-delimited JSON stream. */
export async function* parseWatchStream<T extends KubeObject = KubeObject>(body: AsyncIterable<Buffer | string>): AsyncGenerator<WatchEvent<T>> {
  let buf = '';
  // A streaming decoder keeps multi-byte characters split across chunks intact.
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl < 0) break;
      const line = buf.slice(start, nl);
      start = nl + 1;
      if (line.trim() === '') continue;
      yield JSON.parse(line) as WatchEvent<T>;
    }
    buf = buf.slice(start);
  }
  if (buf.trim() !== '') yield JSON.parse(buf) as WatchEvent<T>;
}
