/**
 * The ClusterRole aggregation controller (Kubernetes' `clusterrole-aggregation`): a ClusterRole with
 * `aggregationRule.clusterRoleSelectors` gets as its `rules` the union of the rules of every other
 * ClusterRole any selector matches — selectors in order, matched roles by name, each role's rules in
 * order, a rule already present skipped — written by server-side apply (field manager
 * `clusterrole-aggregation-controller`, forced) only when it differs from the current rules.
 */
import { isDeepStrictEqual } from 'node:util';
import { labelSelectorFromObject, type AggregationRule, type KubeObject, type PolicyRule } from '@flotilla/api';
import { res, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';

const CLUSTERROLES = res('clusterroles.rbac.authorization.k8s.io');

/** The field manager of the aggregated rules, as in Kubernetes. */
export const AGGREGATION_FIELD_MANAGER = 'clusterrole-aggregation-controller';

/** The part of a ClusterRole this controller reads. */
export interface ClusterRoleView extends KubeObject {
  rules?: PolicyRule[];
  aggregationRule?: AggregationRule;
}

const RULE_FIELDS = ['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs'] as const;

/**
 * A rule with its five fields in a fixed order and other fields dropped, optional empty lists left out
 * (Go's semantic equality treats nil and empty alike); `verbs` is required, so always present.
 */
function normalizeRule(rule: Readonly<PolicyRule>): PolicyRule {
  const out: PolicyRule = { verbs: [...(rule.verbs ?? [])] };
  for (const f of RULE_FIELDS) {
    const v = rule[f];
    if (f !== 'verbs' && v && v.length > 0) out[f] = [...v];
  }
  return out;
}

/**
 * The rules an aggregated ClusterRole should have, from the roles in `roles` (the aggregated role
 * itself excluded): in selector order, then role name order, then rule order, without duplicates.
 * Throws a 400 ApiError on a selector with an unknown operator.
 */
export function aggregateRules(role: Readonly<ClusterRoleView>, roles: readonly Readonly<ClusterRoleView>[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const selectorObject of role.aggregationRule?.clusterRoleSelectors ?? []) {
    const selector = labelSelectorFromObject(selectorObject);
    const matched = roles.filter((r) => r.metadata.name !== role.metadata.name && selector.matches(r.metadata.labels)).sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0));
    for (const r of matched) {
      for (const rule of r.rules ?? []) {
        const n = normalizeRule(rule);
        if (!out.some((have) => isDeepStrictEqual(have, n))) out.push(n);
      }
    }
  }
  return out;
}

/** True when two rule lists are the same, rule by rule in order (nil and empty lists alike). */
export function isSameRules(a: readonly Readonly<PolicyRule>[] | undefined, b: readonly Readonly<PolicyRule>[] | undefined): boolean {
  return isDeepStrictEqual((a ?? []).map(normalizeRule), (b ?? []).map(normalizeRule));
}

/** Keeps aggregated ClusterRoles' rules the union of the roles they select. */
export class ClusterRoleAggregationController implements Controller {
  readonly name = 'clusterrole-aggregation-controller';
  readonly queue: WorkQueue<string>;
  private readonly clusterRoles: SharedInformer<ClusterRoleView>;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.clusterRoles = ctx.informers.informerFor<ClusterRoleView>(CLUSTERROLES);
    // Which aggregated roles a change affects is not worth working out (label edits, selector edits,
    // deletions): every aggregated role is looked at again, as Kubernetes does; the set is small.
    const enqueueAggregated = () => {
      for (const r of this.clusterRoles.lister.list()) if (r.aggregationRule) this.queue.add(r.metadata.name ?? '');
    };
    this.clusterRoles.addEventHandler({ onAdd: enqueueAggregated, onUpdate: enqueueAggregated, onDelete: enqueueAggregated });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.clusterRoles.waitForSync(signal);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Writes an aggregated role's rules when they differ from the union of the selected roles'. */
  async sync(name: string): Promise<void> {
    const role = this.clusterRoles.lister.get('', name);
    if (!role?.aggregationRule) return;
    const rules = aggregateRules(role, this.clusterRoles.lister.list());
    if (isSameRules(rules, role.rules)) return;
    const apply = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules };
    await this.ctx.client.patch(CLUSTERROLES, '', name, apply, 'apply', { fieldManager: AGGREGATION_FIELD_MANAGER, force: true });
    this.ctx.logger.debug({ clusterRole: name, rules: rules.length }, 'aggregated cluster role rules');
  }
}
