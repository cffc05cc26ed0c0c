/**
 * V8 settings that keep a resident agent small, set at run time (`v8.setFlagsFromString`) by the
 * flotilla-agent bin before the agent's modules load, so they hold however the agent is started
 * (`node bin/flotilla-agent.js`, the `flotilla` launcher and supervisor, a service unit); a flag on
 * node's command line, or a bin that re-executes node with one, would miss some of those paths or
 * leave a second Node.js process (~40 MiB) beside the agent.
 *
 * - No WebAssembly tier-up: undici's HTTP parser (llhttp, WebAssembly) stays on the baseline
 *   compiler. Optimizing it takes 35–45 MiB of compiler memory for a moment, much of which the
 *   allocator keeps; the agent's API and engine traffic is light. (Functions the baseline compiler
 *   cannot handle are still optimized, unlike with `--liftoff-only`.)
 * - A young generation of 1 MiB semi-spaces (what `--max-semi-space-size=1` sets, which V8 reads
 *   only at start; growth factor 1 keeps it at its initial size): V8 otherwise grows it to 16–32 MiB
 *   in a burst of work and keeps it for a while after.
 * - No JIT for JavaScript at all (`--max-opt=0`: the bytecode interpreter only) and
 *   `--optimize-for-size`: the agent's own JavaScript is glue between I/O done in C++. Baseline
 *   (Sparkplug) code took ~1.1 MiB of executable memory and ~1.5 MiB of RSS with 30 pods; the
 *   agent's CPU for 30 paced pod starts stayed the same (0.41 s against 0.46 s).
 * - The old generation may grow 10% over the live data before the next full GC (V8 picks 10–100%):
 *   the garbage of a burst of pod starts is collected within seconds instead of ~20 s later.
 * - Every full GC compacts (`--compact-on-every-full-gc`), so pages a burst left partly used are
 *   evacuated and given back: ~1 MiB less RSS before and after 30 pod starts; a full GC of the
 *   agent's ~10 MiB heap stays a few milliseconds.
 *
 * All but the first cost throughput where JavaScript is the hot path: the Ingress proxy and the
 * userspace service proxy. An agent running either calls `relaxForDataPlane()` (back to V8's
 * defaults for those; `--max-opt` alone does not bring the optimizing compiler back, `--turbofan`
 * does; measured on an http-proxy-3 proxy: 3.5x CPU per request without the
 * optimizing JIT, 7–11% with the small young generation).
 */
import { setFlagsFromString } from 'node:v8';

/** Index of no WebAssembly function: only "that" function may tier up. */
const NO_FUNCTION = 2 ** 31 - 1;

/** Flags set at start. */
export const AGENT_V8_FLAGS: readonly string[] = [`--wasm-tier-up-filter=${NO_FUNCTION}`, '--semi-space-growth-factor=1', '--max-opt=0', '--optimize-for-size', '--heap-growing-percent=10', '--compact-on-every-full-gc'];

/** V8's defaults of the flags `relaxForDataPlane` restores. */
export const DATA_PLANE_V8_FLAGS: readonly string[] = ['--semi-space-growth-factor=2', '--max-opt=999', '--turbofan', '--no-optimize-for-size', '--heap-growing-percent=0', '--no-compact-on-every-full-gc'];

/** Sets AGENT_V8_FLAGS; call before loading the agent. */
export function applyAgentV8Settings(): void {
  setFlagsFromString(AGENT_V8_FLAGS.join(' '));
}

/** Gives JavaScript back its optimizing JIT and V8's heap growth (an agent that proxies traffic). */
export function relaxForDataPlane(): void {
  setFlagsFromString(DATA_PLANE_V8_FLAGS.join(' '));
}
