/**
 * Starting the control-plane components and hollow nodes as real processes against a test API
 * server.
 */
import { binPath, startProcess, type RunningProcess } from './processes.js';

/** Starts a scheduler; resolves once it printed that it runs. */
export async function startScheduler(kubeconfig: string, extraArgs: string[] = []): Promise<RunningProcess> {
  const p = startProcess(binPath('scheduler', 'flotilla-scheduler'), ['--kubeconfig', kubeconfig, '--port', '0', '--log-level', 'warn', ...extraArgs]);
  await p.waitForOutput(/scheduler running/, 30_000);
  return p;
}

/** Starts a fleet of hollow nodes; resolves once they are registered. */
export async function startHollowNodes(kubeconfig: string, count: number, extraArgs: string[] = []): Promise<RunningProcess> {
  const p = startProcess(binPath('agent', 'flotilla-hollow-nodes'), ['--kubeconfig', kubeconfig, '--count', String(count), '--log-level', 'warn', ...extraArgs]);
  await p.waitForOutput(/hollow nodes registered/, 60_000);
  return p;
}

/** Starts a controller manager; resolves once it printed that it runs. */
export async function startControllerManager(kubeconfig: string, extraArgs: string[] = []): Promise<RunningProcess> {
  const p = startProcess(binPath('controller-manager', 'flotilla-controller-manager'), ['--kubeconfig', kubeconfig, '--port', '0', '--log-level', 'warn', ...extraArgs]);
  await p.waitForOutput(/controller manager running/, 30_000);
  return p;
}
