/**
 * meta/v1 and the shared primitive types (Quantity, IntOrString, Time).
 */
import { anyJson, bool, DefinitionSet, int32, int64, list, listByKey, obj, oneOf, ref, set, str, stringMap } from '../dsl.js';

export const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
export const TIME = `${META}.Time`;
export const MICRO_TIME = `${META}.MicroTime`;
export const LABEL_SELECTOR = `${META}.LabelSelector`;
export const OBJECT_META = `${META}.ObjectMeta`;
export const CONDITION = `${META}.Condition`;
export const RAW_EXTENSION = 'io.k8s.apimachinery.pkg.runtime.RawExtension';

/** Adds the meta/v1 and primitive definitions. */
export function addMeta(d: DefinitionSet): void {
  d.add(QUANTITY, { type: 'string', format: 'quantity', description: 'A fixed-point number with an optional suffix: a decimal SI suffix (m, k, M, G, T, P, E), a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei) or an exponent (e3). Examples: 100m (0.1 CPU), 128Mi, 1.5Gi.' });
  d.add(INT_OR_STRING, { type: 'string', format: 'int-or-string', 'x-kubernetes-int-or-string': true, description: 'An integer or a string, such as a port number or port name, or a count or percentage ("25%").' });
  d.add(TIME, { type: 'string', format: 'date-time', description: 'A timestamp in RFC 3339 form, with seconds precision (2006-01-02T15:04:05Z).' });
  d.add(MICRO_TIME, { type: 'string', format: 'date-time-micro', description: 'A timestamp in RFC 3339 form with microsecond precision.' });
  d.add(RAW_EXTENSION, anyJson('Any JSON object.'));
  d.add(`${META}.FieldsV1`, anyJson('A field set in the FieldsV1 format of server-side apply.'));

  d.add(
    `${META}.OwnerReference`,
    obj(
      {
        apiVersion: str('API version of the owner.'),
        kind: str('Kind of the owner.'),
        name: str('Name of the owner.'),
        uid: str('UID of the owner.'),
        controller: bool('If true, the owner is the managing controller of this object.'),
        blockOwnerDeletion: bool('If true, the owner cannot be deleted from storage (with foreground deletion) until this object is gone.'),
      },
      'Identifies an object that owns this one. Owned objects are garbage-collected when every owner is gone.',
      { required: ['apiVersion', 'kind', 'name', 'uid'], mapType: 'atomic' },
    ),
  );
  d.add(
    `${META}.ManagedFieldsEntry`,
    obj(
      {
        manager: str('The workflow managing these fields.'),
        operation: str('Apply or Update: the operation that made this entry.'),
        apiVersion: str('The version of the resource the field set applies to.'),
        time: ref(TIME, 'When these fields were last changed.'),
        fieldsType: str('The format of fieldsV1: "FieldsV1".'),
        fieldsV1: ref(`${META}.FieldsV1`, 'The fields this manager owns.'),
        subresource: str('The subresource these fields were written through.'),
      },
      'Which fields a manager owns (server-side apply bookkeeping).',
    ),
  );
  d.add(
    OBJECT_META,
    obj(
      {
        name: str('The name of the object, unique per kind within its namespace (or the cluster for cluster-scoped kinds). Needed on create unless generateName is set. Cannot be updated.'),
        generateName: str('A prefix the server uses to generate a unique name when name is not given; five random characters are appended.'),
        namespace: str('The namespace the object lives in; empty for cluster-scoped objects. Cannot be updated.'),
        selfLink: str('Deprecated; not set.'),
        uid: str('A unique identifier set by the server on creation. Read-only.'),
        resourceVersion: str('An opaque version of this object, changed by every write. Clients use it for optimistic concurrency and to start watches. Read-only.'),
        generation: int64('A sequence number of the desired state (spec), incremented by the server. Read-only.'),
        creationTimestamp: ref(TIME, 'When the server created the object. Read-only.'),
        deletionTimestamp: ref(TIME, 'When the object will be (or started being) deleted. Set by the server on a graceful or finalized deletion. Read-only.'),
        deletionGracePeriodSeconds: int64('Seconds allowed for graceful termination before the object is removed. Read-only.'),
        labels: stringMap('Key/value pairs to organize and select objects.'),
        annotations: stringMap('Key/value pairs of arbitrary, non-identifying data.'),
        ownerReferences: listByKey(ref(`${META}.OwnerReference`), 'uid', 'Objects this object depends on; it is garbage-collected when all of them are gone.', { mapKeys: ['uid'] }),
        finalizers: set(str(), 'Keys that must be removed (by their controllers) before the object is deleted from storage.'),
        managedFields: list(ref(`${META}.ManagedFieldsEntry`), 'Which manager owns which fields (server-side apply).'),
      },
      'Metadata every persisted object has: name, namespace, labels, annotations, owners, finalizers and server-managed fields.',
    ),
  );
  d.add(
    `${META}.ListMeta`,
    obj(
      {
        resourceVersion: str('The version of the list; start a watch from it to see later changes.'),
        continue: str('Set when more items remain: pass it as the continue parameter to get the next page.'),
        remainingItemCount: int64('How many items remain after this page, when known.'),
        selfLink: str('Deprecated; not set.'),
      },
      'Metadata of a list.',
    ),
  );
  d.add(
    `${META}.LabelSelectorRequirement`,
    obj({ key: str('The label key.'), operator: oneOf(['In', 'NotIn', 'Exists', 'DoesNotExist'], 'How the key relates to the values: In, NotIn, Exists or DoesNotExist.'), values: list(str(), 'Values for In and NotIn; empty for Exists and DoesNotExist.') }, 'One label selector requirement.', { required: ['key', 'operator'] }),
  );
  d.add(
    LABEL_SELECTOR,
    obj(
      {
        matchLabels: stringMap('Labels that must equal these values.'),
        matchExpressions: list(ref(`${META}.LabelSelectorRequirement`), 'Requirements that must all hold.'),
      },
      'A label query: all of matchLabels and matchExpressions must hold. An empty selector matches everything; a missing one matches nothing.',
      { mapType: 'atomic' },
    ),
  );
  d.add(
    CONDITION,
    obj(
      {
        type: str('The type of the condition.'),
        status: oneOf(['True', 'False', 'Unknown'], 'The status of the condition.'),
        observedGeneration: int64('The generation this condition was set for.'),
        lastTransitionTime: ref(TIME, 'When the status last changed.'),
        reason: str('A CamelCase reason for the last transition.'),
        message: str('A human-readable message.'),
      },
      'One aspect of the current state of an object.',
      { required: ['type', 'status'] },
    ),
  );
  d.add(`${META}.Preconditions`, obj({ uid: str('The object must have this UID.'), resourceVersion: str('The object must be at this resourceVersion.') }, 'Conditions a delete must meet.'));
  d.add(
    `${META}.DeleteOptions`,
    obj(
      {
        apiVersion: str('The API version of the options (v1).'),
        kind: str('DeleteOptions.'),
        gracePeriodSeconds: int64('Seconds before the object is deleted; 0 deletes at once.'),
        preconditions: ref(`${META}.Preconditions`, 'Conditions the object must meet to be deleted; the delete fails with a conflict otherwise.'),
        orphanDependents: bool('Deprecated: use propagationPolicy.'),
        propagationPolicy: oneOf(['Orphan', 'Background', 'Foreground'], 'What happens to dependents: Orphan, Background or Foreground.'),
        dryRun: list(str(), 'All: process the request without persisting it.'),
      },
      'Options of a delete.',
    ),
  );
  d.add(
    `${META}.StatusCause`,
    obj({ reason: str('A machine-readable cause (FieldValueRequired, FieldManagerConflict...).'), message: str('A human-readable description of the cause.'), field: str('The field the cause is about (spec.containers[0].image).') }, 'One cause of an error.'),
  );
  d.add(
    `${META}.StatusDetails`,
    obj({ name: str('Name of the object the error is about.'), group: str('API group of the object.'), kind: str('Kind (or resource) of the object.'), uid: str('UID of the object, when known.'), causes: list(ref(`${META}.StatusCause`), 'The individual causes of the error.'), retryAfterSeconds: int32('Seconds to wait before retrying.') }, 'Details of an error.'),
  );
  d.add(
    `${META}.Status`,
    obj({ apiVersion: str('v1.'), kind: str('Status.'), metadata: ref(`${META}.ListMeta`, 'Empty for a Status.'), status: str('Success or Failure.'), message: str('A human-readable description of the outcome.'), reason: str('A machine-readable reason (NotFound, AlreadyExists, Conflict, Invalid...).'), details: ref(`${META}.StatusDetails`, 'More about the object and the causes.'), code: int32('The HTTP status code.') }, 'The result of an operation that does not return an object.'),
  );
}
