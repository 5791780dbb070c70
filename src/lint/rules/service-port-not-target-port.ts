/**
 * A policy port that is the Service's port, not the pod's: Service DNAT happens
 * before policy, so policies see the backend pod and its targetPort (semantics
 * §1.5 r25, §1.7 r32, §3.8 r36). An entry naming the Service port never matches
 * traffic sent through the Service when the targetPort differs.
 */
import type { Service, Workload } from "../../model/types.js";
import { resolveTargetPort, serviceBackends } from "../../path/index.js";
import type { Protocol } from "../../sets/index.js";
import { createRule } from "../rule.js";
import { listed, policyResource } from "../util.js";
import { allowRules } from "../facts/networkpolicy.js";

interface Mismatch {
  service: Service;
  backend: Workload;
  targetPort: number;
}

export default createRule({
  id: "service-port-not-target-port",
  description: "A policy port that equals a Service port whose targetPort differs: policies see the pod's port after DNAT",
  severity: "error",
  messages: {
    mismatch:
      "{{rule}} allows {{protocol}}/{{port}}, the port of Service {{services}}, but the Service sends it to targetPort {{targets}} on {{pods}}, which declare no container port {{port}}: policies see the pod's port after the Service's DNAT, so traffic through the Service does not match this entry",
  },
  check({ scenario, report }) {
    const servicesOf = new Map<Workload, Service[]>();
    for (const service of scenario.cluster.services) {
      for (const backend of serviceBackends(scenario, service)) {
        let list = servicesOf.get(backend);
        if (!list) servicesOf.set(backend, (list = []));
        list.push(service);
      }
    }
    for (const rule of allowRules(scenario)) {
      if (rule.subjects.length === 0) continue;
      for (const entry of rule.portEntries) {
        if (typeof entry.port !== "number" || (entry.endPort !== undefined && entry.endPort !== entry.port)) continue;
        const port = entry.port;
        for (const protocol of entry.protocols) {
          const conn = { protocol, port };
          // The pods the entry is about: those the policy selects (ingress), those the rule admits as peers (egress).
          const mismatches: Mismatch[] = [];
          for (const backend of rule.direction === "ingress" ? rule.subjects : rule.candidatePeers()) {
            const found = mismatchesOn(backend, servicesOf.get(backend) ?? [], protocol, port).filter((m) => !rule.conns(backend).contains(protocol, m.targetPort));
            if (found.length === 0) continue;
            if (rule.direction === "egress" && !rule.subjects.some((s) => rule.admits(s, backend, conn))) continue;
            mismatches.push(...found);
          }
          if (mismatches.length === 0) continue;
          const targets = [...new Set(mismatches.map((m) => m.targetPort))].sort((a, b) => a - b);
          report({
            messageId: "mismatch",
            data: {
              rule: rule.text,
              protocol,
              port,
              services: [...new Set(mismatches.map((m) => m.service.id))].sort().join(", "),
              targets: targets.join(", "),
              pods: listed([...new Set(mismatches.map((m) => m.backend.id))].sort()),
            },
            resource: policyResource(rule.ref),
            workloads: [...new Set([...rule.subjects.map((w) => w.id), ...mismatches.map((m) => m.backend.id)])].sort(),
            file: rule.ref.file,
            line: rule.manifest.lineOf(entry.path),
            fix: targets.map((t) => portFix(rule.ref.kind, protocol, t)).join(""),
          });
        }
      }
    }
  },
});

/** The Services of a backend that send `port` to a different targetPort, when the backend declares no container port `port`. */
function mismatchesOn(backend: Workload, services: readonly Service[], protocol: Protocol, port: number): Mismatch[] {
  // A container port with the number makes the entry meaningful for direct connections.
  if (backend.ports.some((cp) => cp.port === port && cp.protocol === protocol)) return [];
  const out: Mismatch[] = [];
  for (const service of services) {
    for (const sp of service.ports) {
      if (sp.port !== port || sp.protocol !== protocol) continue;
      const targetPort = resolveTargetPort(sp, backend);
      if (targetPort !== undefined && targetPort !== port) out.push({ service, backend, targetPort });
    }
  }
  return out;
}

function portFix(kind: string, protocol: Protocol, port: number): string {
  return kind === "NetworkPolicy" ? `- protocol: ${protocol}\n  port: ${port}\n` : `- port: "${port}"\n  protocol: ${protocol}\n`;
}
