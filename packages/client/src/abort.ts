/**
 * The AbortController a long-running component stops with. Every informer, watch, timer and worker of
 * the component listens on its signal, so the default limit of 10 listeners (and its
 * MaxListenersExceededWarning) does not apply.
 */
import { setMaxListeners } from 'node:events';

/** An AbortController whose signal accepts any number of listeners. */
export function componentAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
