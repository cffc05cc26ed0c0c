import { describe, expect, it } from 'vitest';
import type { Ingress, IngressClass } from '@flotilla/api';
import { isIngressServed } from './ingress-class.js';

describe('isIngressServed', () => {
  const ours: IngressClass = { metadata: { name: 'flotilla', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'flotilla.io/ingress' } };
  const nginx: IngressClass = { metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } };
  const ing = (className?: string, annotations?: Record<string, string>): Ingress => ({ metadata: { name: 'i', ...(annotations ? { annotations } : {}) }, spec: className ? { ingressClassName: className } : {} });

  it('serves its class, and class-less Ingresses while its class is the default', () => {
    expect(isIngressServed(ing('flotilla'), [ours, nginx])).toBe(true);
    expect(isIngressServed(ing('nginx'), [ours, nginx])).toBe(false);
    expect(isIngressServed(ing(), [ours, nginx])).toBe(true);
    expect(isIngressServed(ing(), [{ ...ours, metadata: { name: 'flotilla' } }, nginx])).toBe(false);
    expect(isIngressServed(ing(undefined, { 'kubernetes.io/ingress.class': 'nginx' }), [ours, nginx])).toBe(false);
    // Before the class reaches the cache, the name alone decides.
    expect(isIngressServed(ing('flotilla'), [])).toBe(true);
    expect(isIngressServed(ing(), [])).toBe(false);
  });
});
