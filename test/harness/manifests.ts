/**
 * Manifests shared by the CLI end-to-end tests (flctl and stock kubectl apply the same files).
 */

/**
 * The "shop" app as one multi-document YAML: ConfigMap `settings` (data `mode`), Deployment and
 * Service `shop` in `namespace`, preceded by the Namespace when `withNamespace`. `stale` adds a
 * label and a data key that a later apply without them removes (and, with `staleEnv`, an env var).
 */
export function shopManifest(o: { namespace: string; replicas: number; mode: string; stale: boolean; withNamespace?: boolean; staleEnv?: boolean }): string {
  const ns = o.namespace;
  return `${o.withNamespace ? `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
` : ''}apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ${ns}
  labels:
    app: shop
${o.stale ? '    stale: "yes"\n' : ''}data:
  mode: ${o.mode}
${o.stale ? '  removed-later: "x"\n' : ''}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: ${ns}
spec:
  replicas: ${o.replicas}
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
      - name: web
        image: busybox:1.36
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: ${o.mode}
${o.stale && o.staleEnv ? '        - name: OLD\n          value: "1"\n' : ''}---
apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: ${ns}
spec:
  selector:
    app: shop
  ports:
  - name: http
    port: 80
    targetPort: 8080
`;
}
