/**
 * The set algebra every layer uses: integer interval sets, port/protocol
 * connection sets and IP address sets. Pure data, no Kubernetes knowledge.
 */
export { IntervalSet } from "./interval.js";
export { ConnSet, PROTOCOLS, type Protocol } from "./connset.js";
export { IPSet, parseIP, formatIP, type IPFamily } from "./ipset.js";
