/** When the mesh takes part in a flow, reach says which data plane each end has and why, and which mesh settings it assumed. */
import { describe, expect, it } from "vitest";
import { reachIn } from "./mesh-fixture.js";

describe("mesh assumptions in reach", () => {
  it("names each end's data plane and the label that decided it", async () => {
    const r = await reachIn([], { from: "amb/client", to: "svc:side/server:8080" });
    const lines = r.assumptions.filter((a) => a.startsWith("data plane: "));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^data plane: ambient: .*istio\.io\/dataplane-mode=ambient/);
    expect(lines[1]).toMatch(/^data plane: sidecar injected: .*istio-injection=enabled/);
  });

  it("says nothing about the mesh when no proxy takes part", async () => {
    const r = await reachIn([], { from: "plain/client", to: "plain/server:8080" });
    expect(r.assumptions.some((a) => a.startsWith("data plane: "))).toBe(false);
  });
});
