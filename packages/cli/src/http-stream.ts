/**
 * Streaming GETs the RestClient does not cover: watches with the Table media type and
 * `pods/log?follow=true`. Same TLS and credentials as the RestClient of the context.
 */
import { Agent, type Dispatcher } from 'undici';
import { ApiError, type WatchEvent } from '@flotilla/api';
import { parseWatchStream, type ClientConfig } from '@flotilla/client';

/** An open streaming answer. */
export interface OpenStream {
  body: AsyncIterable<Buffer>;
  close(): void;
}

/** Opens a long-lived GET; non-2xx answers throw ApiError from the server's Status. */
export async function openStream(config: ClientConfig, path: string, options: { accept?: string; signal?: AbortSignal } = {}): Promise<OpenStream> {
  const agent = new Agent({
    connect: {
      ...(config.ca ? { ca: config.ca } : {}),
      ...(config.cert && config.key ? { cert: config.cert, key: config.key } : {}),
      ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
      rejectUnauthorized: config.insecureSkipTLSVerify !== true,
    },
    bodyTimeout: 0,
    headersTimeout: 60_000,
  });
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json', 'user-agent': 'flctl/v0.1.0' };
  if (config.token) headers['authorization'] = `Bearer ${config.token}`;
  let res: Dispatcher.ResponseData;
  try {
    res = await agent.request({ origin: new URL(config.server).origin, method: 'GET', path, headers, signal: options.signal });
  } catch (err) {
    await agent.close();
    throw err;
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    const text = await res.body.text();
    await agent.close();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.trim() || `the server responded with status ${res.statusCode}` };
    }
    throw ApiError.fromStatus(parsed, res.statusCode);
  }
  return {
    body: res.body as AsyncIterable<Buffer>,
    close: () => {
      res.body.destroy();
      void agent.close().catch(() => undefined);
    },
  };
}

/** Watch events of a streaming answer; an ERROR event throws its Status. */
export async function* watchEvents<T = unknown>(stream: OpenStream): AsyncGenerator<WatchEvent<T & { metadata: Record<string, unknown> }>> {
  for await (const ev of parseWatchStream(stream.body)) {
    if (ev.type === 'ERROR') throw ApiError.fromStatus(ev.object, 500);
    yield ev as unknown as WatchEvent<T & { metadata: Record<string, unknown> }>;
  }
}
