/**
 * Writes the admin kubeconfig: one cluster (server URL + CA data), one token user, one context.
 * Works as-is with stock kubectl and @kubernetes/client-node.
 */
import { dump } from 'js-yaml';
import { writeFileAtomic } from '@flotilla/client';

/** What goes into a kubeconfig. */
export interface KubeconfigSpec {
  server: string;
  caPem: string;
  token: string;
  clusterName?: string;
  userName?: string;
}

/** The kubeconfig text. */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const cluster = spec.clusterName ?? 'flotilla';
  const user = spec.userName ?? 'admin';
  return dump(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster, cluster: { server: spec.server, 'certificate-authority-data': Buffer.from(spec.caPem).toString('base64') } }],
      users: [{ name: user, user: { token: spec.token } }],
      contexts: [{ name: cluster, context: { cluster, user, namespace: 'default' } }],
      'current-context': cluster,
      preferences: {},
    },
    { lineWidth: -1 },
  );
}

/** Writes the kubeconfig with mode 0600. */
export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  await writeFileAtomic(path, renderKubeconfig(spec), 0o600);
}
