/**
 * The error every volume operation throws, carrying the reason the pod sync puts on its event
 * (`FailedMount` as the kubelet reports it) and the volume it concerns.
 */

/** A volume could not be set up, mounted or torn down. */
export class VolumeError extends Error {
  override name: string = 'VolumeError';
  constructor(
    message: string,
    /** Event reason: FailedMount (set-up and mounts) or FailedUnmount (tear-down). */
    readonly reason: string = 'FailedMount',
    options?: { cause?: unknown; volume?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.volume = options?.volume;
  }
  /** The pod volume concerned, when there is one. */
  readonly volume: string | undefined;
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The errno code of a Node file system error, if any. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
