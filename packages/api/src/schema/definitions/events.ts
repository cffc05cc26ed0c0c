/**
 * events.k8s.io/v1 Event: the newer shape of core/v1 Events (served by conversion from the stored
 * core Events): `note` for message, `regarding` for involvedObject, `reportingController`, and the
 * old timestamps and count as `deprecated*` fields.
 */
import { DefinitionSet, int32, obj, ref, str } from '../dsl.js';
import { MICRO_TIME, TIME } from './meta.js';

/** Adds the events.k8s.io/v1 definitions. */
export function addEvents(d: DefinitionSet): void {
  const e = (n: string) => `io.k8s.api.events.v1.${n}`;
  const core = (n: string) => `io.k8s.api.core.v1.${n}`;
  d.add(e('EventSeries'), obj({ count: int32('Occurrences in the series up to the last heartbeat.'), lastObservedTime: ref(MICRO_TIME, 'When the last occurrence was observed.') }, 'A series of similar events, reported by a heartbeat rather than one event each.', { required: ['count', 'lastObservedTime'] }));
  d.kind(
    e('Event'),
    { group: 'events.k8s.io', version: 'v1', kind: 'Event' },
    'A report of something that happened in the cluster (the events.k8s.io form of core/v1 Event).',
    {
      eventTime: ref(MICRO_TIME, 'When the event was first observed.'),
      series: ref(e('EventSeries'), 'Data about a series of events, if it is one.'),
      reportingController: str('Controller that emitted the event, e.g. kubernetes.io/kubelet.'),
      reportingInstance: str('Instance of the controller, e.g. kubelet-xyzf.'),
      action: str('What was done, or failed.'),
      reason: str('Short CamelCase reason.'),
      regarding: ref(core('ObjectReference'), 'The object the event is about.'),
      related: ref(core('ObjectReference'), 'A second object the event is about.'),
      note: str('Human-readable description (at most 1 kB).'),
      type: str('Normal or Warning.'),
      deprecatedSource: ref(core('EventSource'), 'The core/v1 source field, kept for compatibility.'),
      deprecatedFirstTimestamp: ref(TIME, 'The core/v1 firstTimestamp field, kept for compatibility.'),
      deprecatedLastTimestamp: ref(TIME, 'The core/v1 lastTimestamp field, kept for compatibility.'),
      deprecatedCount: int32('The core/v1 count field, kept for compatibility.'),
    },
  );
}
