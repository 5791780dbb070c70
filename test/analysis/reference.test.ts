/**
 * resolveReference: pod names of every controller kind (the names Kubernetes
 * generates), pod and node IPs, and the cases that must stay errors.
 */
import { describe, expect, it } from "vitest";
import { ReferenceError, resolutionNote, resolveReference, type Resolved } from "../../src/analysis/reference.js";
import type { Scenario } from "../../src/analysis/scenario.js";
import { scenarioFromYaml, toYaml } from "../helpers/cluster.js";

const LONG = "a-deployment-whose-name-is-long-enough-to-be-truncated"; // 54 characters
const LONG_DS = "a-daemonset-whose-own-name-is-longer-than-a-generated-prefix"; // 60 characters

function controller(kind: string, name: string, labels: Record<string, string>, extra: Record<string, unknown> = {}): unknown {
  const template = { metadata: { labels }, spec: { containers: [{ name: "c", image: "i" }], ...extra } };
  const apiVersion = kind === "Job" || kind === "CronJob" ? "batch/v1" : "apps/v1";
  const spec = kind === "CronJob" ? { schedule: "* * * * *", jobTemplate: { spec: { template } } } : { selector: { matchLabels: labels }, template };
  return { apiVersion, kind, metadata: { name, namespace: "app" }, spec };
}

function pod(name: string, labels: Record<string, string>, status: Record<string, unknown>, spec: Record<string, unknown> = {}): unknown {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "app", labels }, spec: { containers: [{ name: "c", image: "i" }], ...spec }, status };
}

const OBJECTS = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "app" } },
  controller("Deployment", "web", { app: "web" }),
  controller("Deployment", LONG, { app: "long" }),
  controller("DaemonSet", "agent", { app: "agent" }),
  controller("DaemonSet", LONG_DS, { app: "long-ds" }),
  controller("Job", "migrate", { app: "migrate" }),
  controller("CronJob", "report", { app: "report" }),
  controller("ReplicaSet", "cache-6c8d9", { app: "cache" }),
  controller("StatefulSet", "db", { app: "db" }),
  // A DaemonSet whose pods' names also fit Deployment web's.
  controller("DaemonSet", "web-7d9f8c", { app: "web-ds" }),
  pod("loner", { app: "loner" }, { podIP: "10.0.0.5", hostIP: "192.168.1.1" }),
  pod("v6", { app: "v6" }, { podIP: "fd00::a", hostIP: "fd00::1:1" }),
  pod("node-exporter", { app: "node-exporter" }, { podIP: "192.168.1.2", hostIP: "192.168.1.2" }, { hostNetwork: true }),
  // Two bare pods that claim one IP (a stale export): an IP reference must not pick one.
  { apiVersion: "v1", kind: "Service", metadata: { name: "db", namespace: "app" }, spec: { selector: { app: "db" }, clusterIP: "10.96.0.20", ports: [{ port: 5432 }] } },
  pod("old", { app: "old" }, { podIP: "10.0.0.9" }),
  pod("new", { app: "new" }, { podIP: "10.0.0.9" }),
];

let scenario: Scenario;
async function resolve(text: string): Promise<Resolved> {
  scenario ??= await scenarioFromYaml(toYaml(OBJECTS));
  return resolveReference(scenario, text);
}
async function workloadOf(text: string): Promise<string> {
  const r = await resolve(text);
  if (r.kind !== "workload") throw new Error(`${text} resolved to ${r.kind}`);
  return `${r.workload.kind} ${r.workload.id}`;
}

describe("a collapsed pod's name resolves to its controller", () => {
  it.each([
    ["app/agent-x7k2p", "DaemonSet app/agent"],
    ["app/migrate-q2w3e", "Job app/migrate"],
    ["app/report-28391234-b7x9z", "CronJob app/report"],
    ["pod:app/cache-6c8d9-m4n5b", "ReplicaSet app/cache-6c8d9"],
    ["app/db-12", "StatefulSet app/db"],
    // The ReplicaSet name (58 characters kept of 'NAME-HASH-') is cut before the random suffix.
    [`app/${`${LONG}-6d4cf56db6-`.slice(0, 58)}zz9k2`, `Deployment app/${LONG}`],
    // The DaemonSet's own name is cut: 58 characters of it, then the random suffix.
    [`app/${LONG_DS.slice(0, 58)}b7x9z`, `DaemonSet app/${LONG_DS}`],
  ])("%s → %s", async (text, expected) => {
    expect(await workloadOf(text)).toBe(expected);
    const note = resolutionNote(await resolve(text));
    expect(note).toMatch(new RegExp(`^pod ${text.replace(/^pod:/, "")} is read as a pod of ${expected}`));
  });

  it("an exact workload name wins, with no note", async () => {
    expect(await workloadOf("app/loner")).toBe("Pod app/loner");
    expect(resolutionNote(await resolve("app/loner"))).toBeUndefined();
  });

  it("a name two controllers could have generated is an error naming both", async () => {
    await expect(resolve("app/web-7d9f8c-abcde")).rejects.toThrow(ReferenceError);
    await expect(resolve("app/web-7d9f8c-abcde")).rejects.toThrow(/could belong to Deployment app\/web or DaemonSet app\/web-7d9f8c/);
  });

  it.each(["app/db-01", "app/agent-toolong", "app/report-123-abcde", "deploy:app/web-7d9f8c-abcde"])("%s stays an error", async (text) => {
    await expect(resolve(text)).rejects.toThrow(ReferenceError);
  });
});

describe("addresses from the input", () => {
  it("a pod IP resolves to its workload, in any spelling of the address", async () => {
    const r = await resolve("fd00:0:0:0:0:0:0:a");
    expect(r).toMatchObject({ kind: "workload", ip: "fd00:0:0:0:0:0:0:a", workload: { id: "app/v6" } });
    expect(resolutionNote(r)).toBe("fd00:0:0:0:0:0:0:a is a pod IP of Pod app/v6 (status.podIP in the input): read as that workload");
  });

  it("a node IP, and the IP of a hostNetwork pod, are node traffic", async () => {
    expect(await resolve("192.168.1.1")).toMatchObject({ kind: "node", ip: "192.168.1.1" });
    expect(await resolve("fd00::1:1")).toMatchObject({ kind: "node" });
    expect(await resolve("192.168.1.2")).toMatchObject({ kind: "node", note: expect.stringContaining("app/node-exporter") });
  });

  it("a Service's ClusterIP is that Service", async () => {
    expect(await resolve("10.96.0.20")).toMatchObject({ kind: "service", service: { id: "app/db" } });
  });

  it("an IP two workloads claim is an error; an unknown IP is external", async () => {
    await expect(resolve("10.0.0.9")).rejects.toThrow(/10\.0\.0\.9 is the pod IP of Pod app\/new and Pod app\/old/);
    expect(await resolve("10.0.0.10")).toEqual({ kind: "external", ip: "10.0.0.10" });
  });
});

describe("cluster DNS names", () => {
  it("NAME.NS.svc.cluster.local is the Service; HOST.SUBDOMAIN.NS.svc.cluster.local is the pod", async () => {
    expect(await resolve("db.app.svc.cluster.local")).toMatchObject({ kind: "service", service: { id: "app/db" } });
    expect(await workloadOf("db-3.db.app.svc.cluster.local")).toBe("StatefulSet app/db");
  });

  it.each(["nope.app.svc.cluster.local", "a.b.c.d.svc.cluster.local", "kubernetes.default.svc.cluster.local.", "node1.cluster.local"])(
    "%s, which no input object answers to, is an error rather than an external name",
    async (text) => {
      await expect(resolve(text)).rejects.toThrow(ReferenceError);
    },
  );

  it("any other name is external", async () => {
    expect(await resolve("api.example.com")).toEqual({ kind: "external", host: "api.example.com" });
  });
});
