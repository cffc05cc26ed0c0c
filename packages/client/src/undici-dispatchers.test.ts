import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UndiciAgent, UndiciPool, undiciErrors } from './undici-dispatchers.js';

describe('undici dispatchers loaded without the entry point', () => {
  // First, before anything loads the entry point: the request API comes from this module alone.
  it('have the request API', async () => {
    const server = createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const pool = new UndiciPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
    try {
      const res = await pool.request({ method: 'GET', path: '/' });
      expect(await res.body.text()).toBe('hello');
    } finally {
      await pool.close();
      server.close();
    }
  });

  it('are the classes the entry point exports', async () => {
    const undici = await import('undici');
    expect(UndiciPool).toBe(undici.Pool);
    expect(UndiciAgent).toBe(undici.Agent);
    expect(undiciErrors).toBe(undici.errors);
  });
});
