/** Rules about the mesh on the wire: ambient (HBONE, probe SNAT, waypoints), control-plane reachability and AuthorizationPolicy shape. */
import ambientHboneNotAdmitted from "../rules/ambient-hbone-not-admitted.js";
import ambientHboneWidensPorts from "../rules/ambient-hbone-widens-ports.js";
import ambientL7WithoutWaypoint from "../rules/ambient-l7-without-waypoint.js";
import ambientProbesBlocked from "../rules/ambient-probes-blocked.js";
import ambientTargetrefWithoutWaypoint from "../rules/ambient-targetref-without-waypoint.js";
import authorizationRulesSplit from "../rules/authorization-rules-split.js";
import meshControlPlaneUnreachable from "../rules/mesh-control-plane-unreachable.js";
import type { Rule } from "../rule.js";

export const meshRules: readonly Rule[] = [ambientHboneNotAdmitted, ambientProbesBlocked, meshControlPlaneUnreachable, authorizationRulesSplit, ambientL7WithoutWaypoint, ambientTargetrefWithoutWaypoint, ambientHboneWidensPorts];
