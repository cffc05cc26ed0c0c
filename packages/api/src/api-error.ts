/**
 * Kubernetes `Status` errors, shared by the API server (which produces them) and the client (which
 * parses them). Reasons and codes follow apimachinery's `metav1.StatusReason`.
 */

/** The Kubernetes status reasons Flotilla uses. */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'InternalError'
  | 'Timeout'
  | 'ServiceUnavailable'
  | 'ServerTimeout'
  | 'Unknown'
  | '';

/** One entry of `details.causes`. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** `details` of a Status. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The wire form of a `Status` (meta/v1). */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** What identifies the object an error is about: `qualifiedResource` is `pods` or `deployments.apps`. */
export interface ErrorSubject {
  /** The resource plural, with `.group` for non-core groups (e.g. `deployments.apps`). */
  qualifiedResource: string;
  name?: string;
  /** The Kind, when known (used by Invalid). */
  kind?: string;
}

/**
 * An error that maps 1:1 to a Kubernetes `Status`. Thrown by the server's store and by the client
 * when the server answers with a Status.
 */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** The `Status` object for the wire. */
  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    // Present even when empty, as Kubernetes sends `"details":{}` for a generic 404 or a non-resource
    // 403: kubectl debug tells "no ephemeralcontainers subresource" from "no such pod" by it.
    if (this.details) status.details = this.details;
    return status;
  }

  /** Builds an ApiError from a Status received on the wire (falls back to the HTTP code). */
  static fromStatus(body: unknown, httpCode: number): ApiError {
    const s = (body ?? {}) as Partial<Status>;
    const code = typeof s.code === 'number' && s.code > 0 ? s.code : httpCode;
    const reason = (typeof s.reason === 'string' ? s.reason : reasonForCode(code)) as StatusReason;
    const message = typeof s.message === 'string' ? s.message : `the server responded with status ${code}`;
    return new ApiError(code, reason, message, s.details);
  }
}

/** The reason apimachinery assumes for a bare HTTP status code. */
export function reasonForCode(code: number): StatusReason {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 406: return 'NotAcceptable';
    case 409: return 'Conflict';
    case 410: return 'Gone';
    case 413: return 'RequestEntityTooLarge';
    case 415: return 'UnsupportedMediaType';
    case 422: return 'Invalid';
    case 429: return 'TooManyRequests';
    case 500: return 'InternalError';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return 'Unknown';
  }
}

function detailsOf(subject: ErrorSubject): StatusDetails {
  const dot = subject.qualifiedResource.indexOf('.');
  const kind = dot < 0 ? subject.qualifiedResource : subject.qualifiedResource.slice(0, dot);
  const details: StatusDetails = { kind };
  if (subject.name !== undefined) details.name = subject.name;
  if (dot >= 0) details.group = subject.qualifiedResource.slice(dot + 1);
  return details;
}

/** 404 `pods "p1" not found`. */
export function notFound(subject: ErrorSubject): ApiError {
  const what = subject.name !== undefined ? `${subject.qualifiedResource} "${subject.name}"` : subject.qualifiedResource;
  return new ApiError(404, 'NotFound', `${what} not found`, detailsOf(subject));
}

/** 409 `pods "p1" already exists`. */
export function alreadyExists(subject: ErrorSubject): ApiError {
  return new ApiError(409, 'AlreadyExists', `${subject.qualifiedResource} "${subject.name ?? ''}" already exists`, detailsOf(subject));
}

/** 409 Conflict: `Operation cannot be fulfilled on pods "p1": <why>`. */
export function conflict(subject: ErrorSubject, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${subject.qualifiedResource} "${subject.name ?? ''}": ${why}`, detailsOf(subject));
}

/** One field problem, as apimachinery's `field.Error`. */
export interface FieldError {
  /** `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, `FieldValueDuplicate`, `FieldValueForbidden`, `FieldValueTooLong`, `FieldValueTypeInvalid`. */
  type: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueTypeInvalid' | 'FieldValueNotFound' | 'InternalError';
  field: string;
  /** Human detail, already including the bad value when useful. */
  message: string;
}

const fieldErrorLabel: Record<FieldError['type'], string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueNotFound: 'Not found',
  InternalError: 'Internal error',
};

/** Formats a field error like apimachinery: `spec.containers[0].image: Required value`. */
export function formatFieldError(e: FieldError): string {
  const label = fieldErrorLabel[e.type];
  if (e.message === '' || e.message === label) return `${e.field}: ${label}`;
  if (e.type === 'FieldValueRequired' || e.type === 'FieldValueForbidden') return `${e.field}: ${label}: ${e.message}`;
  return `${e.field}: ${label}: ${e.message}`;
}

/** 422 `Pod "p1" is invalid: spec.containers[0].image: Required value` with causes. */
export function invalid(kind: string, name: string, group: string, errors: FieldError[]): ApiError {
  const parts = errors.map(formatFieldError);
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const details: StatusDetails = {
    name,
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.type === 'FieldValueRequired' ? 'Required value' : formatFieldError(e).slice(e.field.length + 2), field: e.field })),
  };
  if (group) details.group = group;
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${summary}`, details);
}

/** 400 BadRequest with a message. */
export function badRequest(message: string, causes?: StatusCause[]): ApiError {
  return new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined);
}

/** 401 Unauthorized. */
export function unauthorized(message = 'Unauthorized'): ApiError {
  return new ApiError(401, 'Unauthorized', message);
}

/** 403 Forbidden with a message (use {@link forbiddenVerb} for authorization failures). */
export function forbidden(subject: ErrorSubject, message: string): ApiError {
  const what = subject.name !== undefined ? `${subject.qualifiedResource} "${subject.name}"` : subject.qualifiedResource;
  return new ApiError(403, 'Forbidden', `${what} is forbidden: ${message}`, detailsOf(subject));
}

/** 405 MethodNotAllowed. */
export function methodNotAllowed(message = 'the server does not allow this method on the requested resource'): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message);
}

/** 410 Expired: a resourceVersion or continue token older than retained history. */
export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

/** 410 Gone. */
export function gone(message: string): ApiError {
  return new ApiError(410, 'Gone', message);
}

/** 413 RequestEntityTooLarge. */
export function tooLarge(message = 'Request entity too large'): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', message);
}

/** 415 UnsupportedMediaType. */
export function unsupportedMediaType(message: string): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', message);
}

/** 406 NotAcceptable. */
export function notAcceptable(message: string): ApiError {
  return new ApiError(406, 'NotAcceptable', message);
}

/** 429 TooManyRequests. */
export function tooManyRequests(message: string, retryAfterSeconds?: number): ApiError {
  return new ApiError(429, 'TooManyRequests', message, retryAfterSeconds !== undefined ? { retryAfterSeconds } : undefined);
}

/** 500 InternalError. The message must not leak internals. */
export function internalError(message = 'an internal error occurred', options?: { cause?: unknown }): ApiError {
  return new ApiError(500, 'InternalError', message, undefined, options);
}

/** 504 Timeout. */
export function timeout(message: string): ApiError {
  return new ApiError(504, 'Timeout', message);
}

function isApiErrorWith(err: unknown, reason: StatusReason, code: number): boolean {
  return err instanceof ApiError ? err.reason === reason || (err.reason === '' && err.code === code) : false;
}

/** True for 404 NotFound. */
export function isNotFound(err: unknown): boolean {
  return isApiErrorWith(err, 'NotFound', 404);
}

/** True for 409 AlreadyExists. */
export function isAlreadyExists(err: unknown): boolean {
  return isApiErrorWith(err, 'AlreadyExists', 409);
}

/** True for 409 Conflict. */
export function isConflict(err: unknown): boolean {
  return isApiErrorWith(err, 'Conflict', 409);
}

/** True for 410 Expired/Gone (a watch or continue token must be restarted with a fresh list). */
export function isResourceExpired(err: unknown): boolean {
  return err instanceof ApiError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

/** True for 422 Invalid. */
export function isInvalid(err: unknown): boolean {
  return isApiErrorWith(err, 'Invalid', 422);
}

/** True for 403 Forbidden. */
export function isForbidden(err: unknown): boolean {
  return isApiErrorWith(err, 'Forbidden', 403);
}

/** True for 429 TooManyRequests. */
export function isTooManyRequests(err: unknown): boolean {
  return isApiErrorWith(err, 'TooManyRequests', 429);
}

/** A `Success` Status, as returned by delete and binding. */
export function successStatus(details?: StatusDetails): Omit<Status, 'code'> & { code?: number } {
  const s: Omit<Status, 'code'> & { code?: number } = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
  if (details) s.details = details;
  return s;
}
