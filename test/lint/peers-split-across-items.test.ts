import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/peers-split-across-items.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { networkPolicy, pod } from "../helpers/fixtures.js";

const pods = pod("frontend", "web") + pod("frontend", "batch") + pod("db", "postgres");

const split = `    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: frontend
    - podSelector:
        matchLabels:
          app: web
`;

const combined = `    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: frontend
      podSelector:
        matchLabels:
          app: web
`;

const policy = (peers: string, direction: "ingress" | "egress" = "ingress") => networkPolicy("db", "postgres", { app: "postgres" }, `  policyTypes: [${direction === "ingress" ? "Ingress" : "Egress"}]
  ${direction}:
  - ${direction === "ingress" ? "from" : "to"}:
${peers}    ports:
    - port: 5432
`);

const run = async (text: string, cni?: "cilium") => lint(await scenarioFromYaml(text, cni ? { cni } : {}), [rule]);

describe("peers-split-across-items", () => {
  it("reports a namespace item and a pod item whose pods are in that namespace", async () => {
    const text = pods + policy(split);
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "peers-split-across-items",
      severity: "warning",
      resource: { kind: "NetworkPolicy", namespace: "db", name: "postgres" },
      workloads: ["db/postgres"],
      line: lineOf(text, "    - namespaceSelector:"),
      fix: "- namespaceSelector:\n    matchLabels:\n      kubernetes.io/metadata.name: frontend\n  podSelector:\n    matchLabels:\n      app: web\n",
    });
    expect(findings[0]!.message).toBe(
      "NetworkPolicy db/postgres ingress[0]: namespaceSelector {kubernetes.io/metadata.name=frontend} and podSelector {app=web} are two peer items, which are ORed: the rule admits every pod of namespace frontend (2 workloads) and the pods {app=web} of db (none); the pods {app=web} are in namespace frontend, and one item with both selectors would admit just those (1 workload: frontend/web)",
    );
  });

  it("does not report the single item with both selectors", async () => {
    expect(await run(pods + policy(combined))).toEqual([]);
  });

  it("does not report two items when the pod item selects pods of the policy's namespace (a deliberate OR)", async () => {
    expect(await run(pods + pod("db", "web") + policy(split))).toEqual([]);
  });

  it("does not report when the pod item's pods are not in the selected namespaces either", async () => {
    expect(await run(pods + policy(split.replace("app: web", "app: cron")))).toEqual([]);
  });

  it("reports the same slip in an egress rule, also under Cilium", async () => {
    const text = pods + policy(split, "egress");
    expect((await run(text)).map((f) => f.line)).toEqual([lineOf(text, "    - namespaceSelector:")]);
    expect((await run(text, "cilium")).map((f) => f.resource.name)).toEqual(["postgres"]);
  });
});
