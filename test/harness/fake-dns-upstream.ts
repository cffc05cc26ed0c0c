/**
 * A fake upstream DNS resolver on 127.0.0.1 (UDP and TCP on one port), so that DNS tests never ask
 * a real outside resolver: `*.example.test` A → 192.0.2.7 (other types: no answer), any other
 * name NXDOMAIN. Used by the agent's DNS server unit test and the cluster DNS end-to-end test.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import * as dnsPacket from 'dns-packet';

/** A started fake upstream. */
export interface FakeUpstream {
  port: number;
  /** The questions it was asked, in order, as `udp|tcp NAME TYPE`. */
  queries: string[];
  close(): Promise<void>;
}

/** Starts the fake upstream; `truncateUdp` answers every UDP query with an empty truncated reply (so clients retry over TCP). */
export async function startFakeUpstream(options: { truncateUdp?: boolean } = {}): Promise<FakeUpstream> {
  const queries: string[] = [];
  const answer = (msg: Buffer, transport: 'udp' | 'tcp'): Buffer => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    queries.push(`${transport} ${question.name} ${question.type}`);
    if (transport === 'udp' && options.truncateUdp) return dnsPacket.encode({ id: q.id!, type: 'response', flags: dnsPacket.TRUNCATED_RESPONSE, questions: [question] });
    const known = question.name.toLowerCase().endsWith('.example.test');
    return dnsPacket.encode({ id: q.id!, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: [question], answers: known && question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 60, data: '192.0.2.7' }] : [] });
  };
  let udp: UdpSocket;
  let port: number;
  // UDP picks the port; TCP takes the same one, unless something else holds it: then try again.
  for (;;) {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => socket.send(answer(msg, 'udp'), rinfo.port, rinfo.address));
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const free = await new Promise<boolean>((r) => {
      const probe = createServer().once('error', () => r(false));
      probe.listen(socket.address().port, '127.0.0.1', () => probe.close(() => r(true)));
    });
    if (free) {
      udp = socket;
      port = socket.address().port;
      break;
    }
    socket.close();
  }
  const tcp: Server = createServer((c) => {
    c.on('data', (d: Buffer) => {
      const reply = answer(d.subarray(2, 2 + d.readUInt16BE(0)), 'tcp');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(reply.length);
      c.end(Buffer.concat([len, reply]));
    });
  });
  await new Promise<void>((r, j) => tcp.once('error', j).listen(port, '127.0.0.1', r));
  return { port, queries, close: async () => void (await Promise.all([new Promise((r) => udp.close(() => r(undefined))), new Promise((r) => tcp.close(() => r(undefined)))])) };
}
