/**
 * Recognising the API server's refusal to create objects in a namespace that is being deleted
 * (403 with cause `NamespaceTerminating`), which controllers that fill namespaces ignore.
 */
import { ApiError } from '@flotilla/api';

/** Kubernetes' NamespaceTerminatingCause. */
export const NAMESPACE_TERMINATING_CAUSE = 'NamespaceTerminating';

/** True when `err` is a Status error carrying the NamespaceTerminating cause (Kubernetes' HasStatusCause). */
export function isNamespaceTerminating(err: unknown): boolean {
  return err instanceof ApiError && (err.details?.causes ?? []).some((c) => c.reason === NAMESPACE_TERMINATING_CAUSE);
}
