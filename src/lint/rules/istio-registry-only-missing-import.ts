/**
 * A sidecar under REGISTRY_ONLY whose Sidecar scope does not import a Service
 * the workload is shown to call: the call is refused by the client's own proxy
 * (HTTP 502, or a reset connection) before it reaches the network.
 *
 * Evidence of the call comes from the input: the workload's env, command or args
 * name the Service's DNS name, or an egress rule of the workload (NetworkPolicy,
 * CiliumNetworkPolicy) admits the Service's pods by a selector that names their
 * namespace or labels, or names the Service (toServices), not an allow-all. The
 * drop is decided with the wire path.
 */
import type { Scenario } from "../../analysis/scenario.js";
import { CiliumLayer, type PeerPart } from "../../layers/cilium/index.js";
import { CLUSTER_LABEL, POD_NAMESPACE_LABEL } from "../../layers/cilium/labels.js";
import type { NetworkPolicy } from "../../layers/networkpolicy/index.js";
import { egressListenerFor, type SidecarEgressListener, type SidecarResource } from "../../layers/istio/sidecar-egress.js";
import { NAMESPACE_NAME_LABEL, type Service, type ServicePort, type Workload } from "../../model/types.js";
import { resolveTargetPort, serviceBackends, traceFlow } from "../../path/index.js";
import { serviceNamedBy } from "../facts/istio.js";
import { createRule } from "../rule.js";
import { listed, networkPolicies } from "../util.js";

interface Evidence {
  what: string;
  /** The port the evidence names, when it names one. */
  port?: number;
  /** A NetworkPolicy admits the call: the CNI must let it through for the evidence to hold. */
  cni: boolean;
}

/** An egress rule of a NetworkPolicy selecting `w` that admits the Service's pods by a selector naming them. */
function networkPolicyEvidence(scenario: Scenario, policies: readonly NetworkPolicy[], w: Workload, s: Service): Evidence | undefined {
  const backends = serviceBackends(scenario, s);
  const nsLabels = scenario.cluster.namespaces.get(s.namespace)?.labels ?? { [NAMESPACE_NAME_LABEL]: s.namespace };
  for (const p of policies) {
    if (p.namespace !== w.namespace || !p.policyTypes.has("egress") || !p.podSelector.matches(w.labels)) continue;
    for (const rule of p.egress) {
      for (const peer of rule.peers ?? []) {
        if (peer.type !== "pods") continue;
        const { namespaceSelector: nsSel, podSelector: podSel } = peer;
        const namespaceMatches = nsSel ? nsSel.matches(nsLabels) : p.namespace === s.namespace;
        const podsMatch = !podSel || backends.some((b) => podSel.matches(b.labels));
        // Evidence only when the selector singles the Service's pods out (a named namespace or named pods), not an allow-all.
        const specific = (nsSel !== undefined && nsSel.requirements.length > 0) || (podSel !== undefined && podSel.requirements.length > 0);
        if (namespaceMatches && podsMatch && specific) {
          return { what: `NetworkPolicy ${p.namespace}/${p.name} egress[${rule.index}] admits its pods`, cni: true };
        }
      }
    }
  }
  return undefined;
}

/**
 * A Cilium egress peer that singles out pods: a Service (toServices), or an
 * endpoint selector with a label requirement or naming another namespace than
 * the client's (the implicit own-namespace and cluster requirements do not count).
 */
function singlesOut(part: PeerPart, clientNamespace: string): boolean {
  if (part.type === "service") return true;
  if (part.type !== "selector") return false;
  return part.selector.requirements.some((r) =>
    r.key === POD_NAMESPACE_LABEL ? r.operator === "In" && !r.values.includes(clientNamespace) : r.key !== CLUSTER_LABEL,
  );
}

/** A Cilium egress allow rule of the workload that admits a backend of the Service through a peer that singles it out. */
function ciliumEvidence(scenario: Scenario, w: Workload, s: Service): Evidence | undefined {
  for (const layer of scenario.layers) {
    if (!(layer instanceof CiliumLayer) || !layer.isolates(w, "egress")) continue;
    for (const backend of serviceBackends(scenario, s)) {
      for (const port of s.ports.filter((p) => p.protocol === "TCP")) {
        const target = resolveTargetPort(port, backend);
        if (target === undefined) continue;
        const d = layer.evaluate(w, "egress", { kind: "workload", workload: backend }, { protocol: "TCP", port: target });
        if (d.verdict !== "allow") continue;
        for (const ref of d.policies) {
          const rule = layer.engine.specs
            .filter((spec) => spec.policy.kind === ref.kind && spec.policy.namespace === ref.namespace && spec.policy.name === ref.name)
            .flatMap((spec) => spec.rules)
            .find((r) => r.direction === "egress" && !r.deny && r.index === ref.rule && r.line === ref.line);
          if (rule?.peers.some((part) => singlesOut(part, w.namespace))) {
            return { what: `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name} ${rule.label} admits its pods`, cni: true };
          }
        }
      }
    }
  }
  return undefined;
}

function evidenceFor(scenario: Scenario, policies: readonly NetworkPolicy[], w: Workload, s: Service): Evidence | undefined {
  const named = serviceNamedBy(w, s);
  if (named) return { what: `its containers name ${named.text}`, ...(named.port !== undefined ? { port: named.port } : {}), cni: false };
  return networkPolicyEvidence(scenario, policies, w, s) ?? ciliumEvidence(scenario, w, s);
}

function hostsFix(listener: SidecarEgressListener | undefined, added: string): string {
  const lines = ["spec:", "  egress:"];
  if (listener?.port) {
    lines.push("  - port:", `      number: ${listener.port.number}`, `      protocol: ${listener.port.protocol}`);
    if (listener.port.name) lines.push(`      name: ${listener.port.name}`);
    lines.push("    hosts:");
  } else lines.push("  - hosts:");
  for (const h of [...(listener?.hosts ?? []).map((x) => x.raw), added]) lines.push(`    - "${h}"`);
  return `${lines.join("\n")}\n`;
}

interface Drop {
  sidecar: SidecarResource;
  listener: SidecarEgressListener | undefined;
  service: Service;
  port: ServicePort;
  observed: string;
  line: number;
  workloads: string[];
  evidence: string[];
}

export default createRule({
  id: "istio-registry-only-missing-import",
  description: "A REGISTRY_ONLY Sidecar does not import a Service its workloads are shown to call",
  severity: "error",
  messages: {
    notImported:
      "{{workloads}} call{{s}} Service {{service}} ({{evidence}}), but Sidecar {{sidecar}} runs REGISTRY_ONLY and does not import {{host}}: the sidecar refuses the call on port {{port}} ({{observed}})",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    const policies = networkPolicies(scenario);
    const drops = new Map<string, Drop>();
    for (const w of scenario.cluster.workloads) {
      if (mesh.membership(w).mode !== "sidecar") continue;
      // Only a REGISTRY_ONLY scope drops what it does not import.
      if (mesh.egress.outboundPolicy(mesh.egress.selectSidecar(w)).mode !== "REGISTRY_ONLY") continue;
      for (const s of scenario.cluster.services) {
        if (serviceBackends(scenario, s).includes(w)) continue;
        const evidence = evidenceFor(scenario, policies, w, s);
        if (!evidence) continue;
        const ports = s.ports.filter((p) => p.protocol === "TCP" && (evidence.port === undefined || p.port === evidence.port));
        for (const port of ports) {
          const path = traceFlow(scenario, { kind: "workload", workload: w }, { kind: "service", service: s, port }, { protocol: "TCP", port: port.port })[0];
          const blocked = path?.blocked;
          if (!blocked || blocked.step !== "mesh-egress" || blocked.enforcer !== "istio-egress") continue;
          if (evidence.cni && !path.hops.some((h) => h.step === "egress" && h.at === w.id && h.verdict === "allow")) continue;
          // Only a missing import: a Service hidden by exportTo is istio-host-not-exported's finding.
          const d = mesh.egress.evaluate({ source: w, sourceMode: "sidecar", destination: { kind: "service", service: s, port: port.port }, protocol: "TCP" });
          const sidecar = d.sidecar.sidecar;
          if (d.verdict !== "deny" || d.missing?.kind !== "SidecarEgressHost" || !sidecar) continue;
          const found = egressListenerFor(sidecar, port.port);
          const listener = found && found.index >= 0 ? found : undefined;
          const key = `${sidecar.namespace}/${sidecar.name}|${s.id}`;
          const drop = drops.get(key) ?? {
            sidecar,
            listener,
            service: s,
            port,
            observed: blocked.observed === "http-502" ? "HTTP 502" : "connection reset",
            line: d.missing.line ?? sidecar.line,
            workloads: [],
            evidence: [],
          };
          drop.workloads.push(w.id);
          drop.evidence.push(evidence.what);
          drops.set(key, drop);
          break;
        }
      }
    }
    for (const drop of drops.values()) {
      const host = `${drop.service.namespace}/${mesh.egress.fqdn(drop.service)}`;
      report({
        messageId: "notImported",
        data: {
          workloads: listed(drop.workloads),
          s: drop.workloads.length === 1 ? "s" : "",
          service: drop.service.id,
          evidence: [...new Set(drop.evidence)].join("; "),
          sidecar: `${drop.sidecar.namespace}/${drop.sidecar.name}`,
          host,
          port: drop.port.port,
          observed: drop.observed,
        },
        resource: { kind: "Sidecar", namespace: drop.sidecar.namespace, name: drop.sidecar.name },
        workloads: drop.workloads,
        file: drop.sidecar.file,
        line: drop.line,
        fix: hostsFix(drop.listener, host),
      });
    }
  },
});
