/**
 * `palisade analyze` text: the isolation table keeps its columns apart however
 * long the workload and policy names are.
 */
import { describe, expect, it } from "vitest";
import { fixture, palisade } from "./helpers.js";

const LONG = "customer-notification-dispatcher-with-a-very-long-name";

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: notifications}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${LONG}, namespace: notifications}
spec:
  selector: {matchLabels: {app: dispatcher}}
  template:
    metadata: {labels: {app: dispatcher}}
    spec:
      containers: [{name: app, image: app, ports: [{containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: mailer, namespace: notifications}
spec:
  selector: {matchLabels: {app: mailer}}
  template:
    metadata: {labels: {app: mailer}}
    spec:
      containers: [{name: app, image: app, ports: [{containerPort: 25}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-all-ingress-and-egress, namespace: notifications}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ingress-from-the-api-gateway-namespace, namespace: notifications}
spec:
  podSelector: {matchLabels: {app: dispatcher}}
  ingress:
  - from: [{namespaceSelector: {}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-scrape, namespace: notifications}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 9090}]
`;

describe("analyze -o text", () => {
  it("sizes the isolation columns to their content, two spaces apart at least", async () => {
    const r = await palisade(["analyze", "-f", fixture(CLUSTER)]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    const start = lines.indexOf("Isolation");
    const end = lines.indexOf("", start);
    const rows = lines.slice(start + 1, end);
    const header = rows[0]!;
    expect(header).toMatch(/^ {2}WORKLOAD {2,}INGRESS {2,}EGRESS$/);
    const ingressAt = header.indexOf("INGRESS");
    const egressAt = header.indexOf("EGRESS");

    const row = rows.find((l) => l.includes(LONG))!;
    expect(row.slice(0, ingressAt)).toBe(`  notifications/${LONG}`.padEnd(ingressAt));
    expect(row.slice(ingressAt - 2, ingressAt)).toBe("  ");
    // Every line of the table has its EGRESS cell (or nothing) at the header's column, after a gap.
    for (const l of rows.slice(1)) {
      if (l.length > egressAt - 2) expect(l.slice(egressAt - 2, egressAt), l).toBe("  ");
      if (l.trim().startsWith("isolated") || l.trim().startsWith("open")) expect(l[egressAt], l).toMatch(/\S/);
    }
    const cells = (l: string) => [l.slice(0, ingressAt).trim(), l.slice(ingressAt, egressAt).trim(), l.slice(egressAt).trim()];
    // A cell may wrap onto the next lines of its column; read back whole, it is the full list.
    const record = (first: string): string[] => {
      const own = [first];
      for (const l of rows.slice(rows.indexOf(first) + 1)) {
        if (cells(l)[0] !== "") break;
        own.push(l);
      }
      return [0, 1, 2].map((j) => own.map((l) => cells(l)[j]).filter(Boolean).join(" "));
    };
    expect(record(row)).toEqual([
      `notifications/${LONG}`,
      "isolated by default-deny-all-ingress-and-egress, allow-ingress-from-the-api-gateway-namespace, allow-scrape",
      "isolated by default-deny-all-ingress-and-egress",
    ]);
    expect(record(rows.find((l) => l.includes("notifications/mailer"))!)).toEqual([
      "notifications/mailer",
      "isolated by default-deny-all-ingress-and-egress, allow-scrape",
      "isolated by default-deny-all-ingress-and-egress",
    ]);
  });
});
