/**
 * The WebSocket channel protocols of exec, attach and port-forward (`*.channel.k8s.io`), shared by
 * the agent (server side) and flctl (client side): each binary message is one channel byte plus data —
 * 0 stdin, 1 stdout, 2 stderr, 3 error (the final Status), 4 resize; v5 adds `[255, channel]` to close a
 * channel (stdin EOF).
 */

/** Exec/attach protocols, newest first. */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;

/** Port-forward protocols: the dedicated one and the generic channel ones (client-node offers those). */
export const PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io', ...EXEC_PROTOCOLS] as const;

/** Channel numbers. */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

/** The first of the client's protocols that we speak, or false. */
export function chooseProtocol(offered: Iterable<string>, supported: readonly string[]): string | false {
  for (const p of offered) if (supported.includes(p)) return p;
  return false;
}

/** True for protocols whose error channel carries a JSON Status (v4 and later). */
export function hasStatusChannel(protocol: string): boolean {
  return protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io';
}

/** `[channel] + data` as one message. */
export function frame(channel: number, data: Uint8Array | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = channel;
  out.set(body, 1);
  return out;
}
