/**
 * An AuthorizationPolicy attached with targetRefs to a Service or ServiceEntry that
 * no waypoint serves, or to a waypoint nothing uses: only waypoints read such
 * policies, and sidecars and ztunnel ignore them, so nothing enforces it there.
 */
import { serviceEntryTarget, serviceTarget, workloadTarget, LABEL_USE_WAYPOINT, type Waypoint, type WaypointBinding } from "../../layers/istio/waypoint.js";
import type { AuthorizationPolicy, PolicyTargetRef } from "../../layers/istio/authorization.js";
import { serviceBackends } from "../../path/index.js";
import type { Scenario } from "../../analysis/scenario.js";
import type { Service } from "../../model/types.js";
import { enforcementPointOf, evaluatePolicies, waypointGatewayYaml } from "../facts/mesh.js";
import { createRule } from "../rule.js";

const isCore = (group: string): boolean => group === "" || group === "core";

/**
 * Whether the proxies of the Service's pods (sidecar, gateway or ztunnel) leave the
 * policy out, as the evaluator attaches it: with targetRefs it binds to none of them.
 */
function ignoredByBackends(scenario: Scenario, p: AuthorizationPolicy, svc: Service): boolean {
  return serviceBackends(scenario, svc).every((w) => {
    const point = enforcementPointOf(scenario.mesh!.membership(w).mode);
    if (!point) return true;
    const port = w.ports.find((cp) => cp.protocol === "TCP")?.port ?? 8080;
    const d = evaluatePolicies(scenario, [p], { source: { mtls: false }, destination: { namespace: w.namespace, labels: w.labels, port }, protocol: "TCP" }, point);
    return !d.isolated;
  });
}

interface Unenforced {
  index: number;
  ref: PolicyTargetRef;
  /** Why no waypoint serves the Service or ServiceEntry; absent for a waypoint nothing binds to. */
  binding?: WaypointBinding;
  workloads: string[];
}

/**
 * Whether some Service, ServiceEntry or pod of the waypoint's namespace uses it (by its
 * own label or its namespace's). Only asked of waypoints that admit their own namespace
 * alone, so the input's objects of that namespace are all that could.
 */
function waypointInUse(scenario: Scenario, wp: Waypoint): boolean {
  const mesh = scenario.mesh!;
  const ns = wp.namespace;
  if (scenario.cluster.services.some((s) => s.namespace === ns && mesh.waypoints.forService(serviceTarget(s)).waypoint === wp)) return true;
  if (mesh.registry.entries.some((e) => e.namespace === ns && mesh.waypoints.forService(serviceEntryTarget(e)).waypoint === wp)) return true;
  return scenario.cluster.workloads.some((w) => w.namespace === ns && mesh.waypoints.forWorkload(workloadTarget(w)).waypoint === wp);
}

/** Whether the input describes the namespace beyond the waypoint itself (its own pods and Service aside). */
function hasOwnObjects(scenario: Scenario, wp: Waypoint): boolean {
  const own = scenario.mesh!.waypointPods(wp);
  return (
    scenario.cluster.workloads.some((w) => w.namespace === wp.namespace && !own.includes(w)) ||
    scenario.cluster.services.some((s) => s.namespace === wp.namespace && !serviceBackends(scenario, s).every((w) => own.includes(w)))
  );
}

export default createRule({
  id: "ambient-targetref-without-waypoint",
  description: "An AuthorizationPolicy targets a Service or ServiceEntry with targetRefs, but no waypoint serves it, so nothing enforces the policy",
  severity: "error",
  messages: {
    unenforced:
      "AuthorizationPolicy {{policy}} targets {{target}} with targetRefs, but no waypoint serves it ({{reason}}); sidecars and ztunnel ignore policies with targetRefs, so nothing enforces this {{action}} policy for {{target}}",
    waypointUnused:
      "AuthorizationPolicy {{policy}} targets waypoint {{target}}, but no Service, ServiceEntry, pod or namespace of the input uses it ({{label}}), so no traffic goes through it and nothing enforces this {{action}} policy",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    for (const p of mesh.authorizationPolicies) {
      if (p.dryRun || p.targetRefs.length === 0) continue;
      const unenforced: Unenforced[] = [];
      p.targetRefs.forEach((ref, index) => {
        if (ref.kind === "Service" && isCore(ref.group)) {
          // A Service the input does not have may exist in the cluster: nothing to decide.
          const svc = scenario.cluster.services.find((s) => s.namespace === p.namespace && s.name === ref.name);
          if (!svc) return;
          const binding = mesh.waypoints.forService(serviceTarget(svc));
          if (binding.waypoint || !ignoredByBackends(scenario, p, svc)) return;
          unenforced.push({ index, ref, binding, workloads: serviceBackends(scenario, svc).map((w) => w.id) });
        } else if (ref.kind === "ServiceEntry" && ref.group === "networking.istio.io") {
          const entry = mesh.registry.entries.find((e) => e.namespace === p.namespace && e.name === ref.name);
          if (!entry) return;
          const binding = mesh.waypoints.forService(serviceEntryTarget(entry));
          if (binding.waypoint) return;
          unenforced.push({ index, ref, binding, workloads: [] });
        } else if (ref.kind === "Gateway" && ref.group === "gateway.networking.k8s.io") {
          // Another class of Gateway is a proxy of its own that reads the policy; a missing one cannot be told from a partial input.
          const wp = mesh.waypoints.get(p.namespace, ref.name);
          if (!wp || wp.allowedRoutes.from !== "Same" || !hasOwnObjects(scenario, wp) || waypointInUse(scenario, wp)) return;
          unenforced.push({ index, ref, workloads: [] });
        }
      });
      if (unenforced.length === 0) continue;
      const manifest = p.manifest;
      const single = manifest.raw.spec && (manifest.raw.spec as Record<string, unknown>)["targetRefs"] === undefined;
      for (const u of unenforced) {
        const target = `${u.ref.kind} ${p.namespace}/${u.ref.name}`;
        const line = manifest.lineOf(single ? ["spec", "targetRef"] : ["spec", "targetRefs", u.index]);
        const resource = { kind: "AuthorizationPolicy", namespace: p.namespace, name: p.name };
        if (!u.binding) {
          report({
            messageId: "waypointUnused",
            data: { policy: `${p.namespace}/${p.name}`, target: `${p.namespace}/${u.ref.name}`, label: `no ${LABEL_USE_WAYPOINT}: ${u.ref.name} label`, action: p.action },
            resource,
            workloads: [],
            file: p.file,
            line,
            fix: `# on namespace ${p.namespace}, or on the Services that should use the waypoint:\nmetadata:\n  labels:\n    ${LABEL_USE_WAYPOINT}: ${u.ref.name}\n`,
          });
          continue;
        }
        report({
          messageId: "unenforced",
          data: { policy: `${p.namespace}/${p.name}`, target, reason: u.binding.problem ?? u.binding.reason, action: p.action },
          resource,
          workloads: u.workloads,
          file: p.file,
          line,
          fix: `${waypointGatewayYaml(p.namespace, "service")}---\n# on ${target} (or on namespace ${p.namespace}):\nmetadata:\n  labels:\n    ${LABEL_USE_WAYPOINT}: waypoint\n`,
        });
      }
    }
  },
});
