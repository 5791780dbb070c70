import { describe, expect, it } from "vitest";
import { deployment, fixYaml, namespace } from "./helpers.js";

describe("fix at a Service", () => {
  it("says what is wrong with a Service that selects no pod, with no YAML", async () => {
    const service = `apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api-v2}
  ports:
  - {port: 80, targetPort: 8080}
`;
    const r = await fixYaml(namespace("shop") + deployment("shop", "api", { port: 8080 }) + deployment("shop", "web") + service, { from: "shop/web", to: "svc:shop/api:80" });
    expect(r.blockedBefore).toMatchObject({ layer: "service" });
    expect(r.verdictAfter).toBe("denied");
    expect(r.changes).toEqual([]);
    expect(r.noFix).toMatchObject({ layer: "service", direction: null });
    expect(r.noFix!.reason).toContain("the Service itself has to change");
  });
});
