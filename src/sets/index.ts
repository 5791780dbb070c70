/**
 * The set algebra every layer uses: integer interval sets, port/protocol
 * connection sets and IP address sets. Pure data, no Kubernetes knowledge.
 */
export { IntervalSet, type Interval } from "./interval.js";
export { ConnSet, PROTOCOLS, MIN_PORT, MAX_PORT, isProtocol, type Protocol } from "./connset.js";
export { IPSet, CidrError, parseIP, parseCidr, formatIP, type IPFamily } from "./ipset.js";
