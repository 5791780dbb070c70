/**
 * A ServiceEntry with resolution NONE and no addresses on a TCP port: a sidecar
 * has no address to bind the port's listener to, so it listens on 0.0.0.0:PORT
 * and takes connections to every IP on that port as this entry (semantics.md
 * §4.9 r29). Under REGISTRY_ONLY, that opens the whole port to any address.
 *
 * Decided with the sidecar's registry: a connection to an address the entry does
 * not name, on that port, is matched by the entry.
 */
import { protocolClass } from "../../layers/istio/serviceentry.js";
import { serviceEntryResource, workloadsRoutedTo } from "../facts/istio.js";
import { createRule } from "../rule.js";
import { listed } from "../util.js";

/** An address no ServiceEntry is expected to name (RFC 5737 documentation range). */
const UNRELATED_ADDRESS = "198.51.100.23";

export default createRule({
  id: "istio-serviceentry-none-without-addresses",
  description: "A ServiceEntry with resolution NONE and no addresses matches its TCP ports on every IP",
  severity: "warning",
  messages: {
    opensPort:
      "ServiceEntry {{entry}} has resolution NONE and no addresses, so its port {{port}} ({{protocol}}) matches connections to every IP on that port: the REGISTRY_ONLY sidecars of {{workloads}} let any address on port {{port}} through as {{host}}",
    matchesEveryIp:
      "ServiceEntry {{entry}} has resolution NONE and no addresses, so its port {{port}} ({{protocol}}) matches connections to every IP on that port (a sidecar's REGISTRY_ONLY is opened for the whole port)",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    // With the sidecar's DNS proxy, such an entry may get an automatically allocated address to bind to: not reported.
    if (!mesh || mesh.settings.dnsCapture) return;
    for (const e of mesh.registry.entries) {
      if (e.resolution !== "NONE" || e.addresses.length > 0) continue;
      for (const port of e.ports) {
        const cls = protocolClass(port.protocol);
        if (cls !== "tcp" && cls !== "auto") continue;
        // The registry itself must take an unrelated address on this port as the entry.
        const answer = mesh.registry.query({ namespace: e.namespace, ip: UNRELATED_ADDRESS, port: port.number, app: "tcp" });
        if (!answer.candidates.some((c) => c.entry === e && c.by === "port")) continue;
        const routed = workloadsRoutedTo(scenario, e, port, { ip: UNRELATED_ADDRESS, app: "tcp" });
        const opened = routed.filter((r) => r.registryOnly).map((r) => r.workload.id);
        report({
          messageId: opened.length > 0 ? "opensPort" : "matchesEveryIp",
          data: {
            entry: `${e.namespace}/${e.name}`,
            port: port.number,
            protocol: port.protocol || "protocol unset",
            workloads: listed(opened.length > 3 ? [...opened.slice(0, 3), `${opened.length - 3} more`] : opened),
            host: e.hosts[0] ?? "",
          },
          resource: serviceEntryResource(e),
          workloads: routed.map((r) => r.workload.id),
          file: e.file,
          line: port.line,
          fix: "spec:\n  addresses:\n  - 203.0.113.0/24   # the addresses the entry is for\n",
        });
      }
    }
  },
});
