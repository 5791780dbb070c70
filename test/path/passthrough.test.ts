/**
 * A sidecar client's connection that no Service or ServiceEntry in scope covers
 * is passed through by its sidecar in plaintext (ALLOW_ANY): the destination sees
 * no identity, so STRICT mTLS and principal-based ALLOW rules refuse it. Reached
 * through its Service, the same workload gets the client's identity.
 */
import { describe, expect, it } from "vitest";
import { IP, peerAuthn, reachIn } from "./mesh-fixture.js";

describe("sidecar passthrough carries no identity", () => {
  const strict = [peerAuthn("side", "STRICT")];

  it("a pod address on a port no Service covers: plaintext, refused by STRICT", async () => {
    const r = await reachIn(strict, { from: "side/client", to: `${IP["side/server"]}:7777` });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({ layer: "istio-peerauthentication", direction: "ingress", workload: "side/server", observed: "reset" });
    expect(r.assumptions.join("\n")).toMatch(/passthrough \(plaintext\)/);
  });

  it("the Service's port: the sidecar originates mTLS and STRICT accepts", async () => {
    const r = await reachIn(strict, { from: "side/client", to: "svc:side/server:8080" });
    expect(r.verdict).toBe("allowed");
  });

  it("the workload by name on a port its Service exposes is reached through that Service", async () => {
    const r = await reachIn(strict, { from: "side/client", to: "side/server:8080" });
    expect(r.verdict).toBe("allowed");
    expect(r.assumptions.join("\n")).toMatch(/through Service side\/server:8080/);
  });
});
