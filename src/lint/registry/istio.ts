/** Rules about Istio resources: AuthorizationPolicy, ServiceEntry, Sidecar. */
import type { Rule } from "../rule.js";

export const istioRules: readonly Rule[] = [];
