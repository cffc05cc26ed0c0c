/**
 * OpenAPI documents: `/openapi/v3` (index of group versions with content hashes) and
 * `/openapi/v3/<api/v1|apis/g/v>` built from the same schemas that validate requests, and the
 * minimal `/openapi/v2` answer kubectl accepts (it falls back to v2 only when v3 fails).
 */
import { createHash } from 'node:crypto';
import { apiGroups, buildOpenApiV3, SERVED_RESOURCES, type ResourceInfo } from '@flotilla/api';

interface CachedDoc {
  body: string;
  hash: string;
}

/** Builds and caches every group version's document. */
export class OpenApiDocuments {
  private readonly docs = new Map<string, CachedDoc>();

  constructor() {
    for (const g of apiGroups()) {
      for (const v of g.versions) {
        const gv = g.name === '' ? v : `${g.name}/${v}`;
        const resources: ResourceInfo[] = SERVED_RESOURCES.filter((r) => r.group === g.name && r.version === v);
        const body = JSON.stringify(buildOpenApiV3(gv, resources));
        const hash = createHash('sha512').update(body).digest('hex').slice(0, 128).toUpperCase();
        this.docs.set(g.name === '' ? `api/${v}` : `apis/${g.name}/${v}`, { body, hash });
      }
    }
  }

  /** `GET /openapi/v3`. */
  index(): string {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [path, d] of this.docs) paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${d.hash}` };
    return JSON.stringify({ paths });
  }

  /** `GET /openapi/v3/<path>`, or undefined. */
  document(path: string): CachedDoc | undefined {
    return this.docs.get(path);
  }
}
