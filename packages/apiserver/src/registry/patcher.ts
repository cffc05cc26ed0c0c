/**
 * Applies PATCH bodies to the current object (JSON patch, JSON merge patch, strategic merge patch)
 * and server-side apply, using the patch algorithms of @flotilla/api and the kinds' schemas.
 */
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  badRequest,
  serverSideApply,
  type KubeObject,
  type SchemaDefinitions,
} from '@flotilla/api';
import type { PatchType } from '../http/body.js';

/** Patches objects of every kind. */
export class Patcher {
  constructor(private readonly defs: SchemaDefinitions) {}

  /** The object that results from applying a json/merge/strategic patch to `current`. */
  apply(type: Exclude<PatchType, 'apply'>, definitionName: string, current: KubeObject, patch: unknown): unknown {
    switch (type) {
      case 'json':
        return applyJsonPatch(current, patch as never);
      case 'merge':
        return applyMergePatch(current, patch);
      case 'strategic':
        return applyStrategicMergePatch(this.defs, definitionName, current, patch as Record<string, unknown>);
    }
  }

  /**
   * Server-side apply of `applied` onto `live` (undefined = create) for `manager`. Throws 409 with
   * FieldManagerConflict causes unless `force`.
   */
  serverSideApply(definitionName: string, live: KubeObject | undefined, applied: Record<string, unknown>, manager: string | undefined, force: boolean, apiVersion: string, now: Date): KubeObject {
    if (!manager) throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager parameter');
    const r = serverSideApply({ defs: this.defs, name: definitionName, live, applied, manager, force, apiVersion, now });
    return r.object as KubeObject;
  }
}
