/** Rules about Kubernetes NetworkPolicy (and what any CNI policy shares with it). */
import egressWithoutDns from "../rules/egress-without-dns.js";
import namedPortUndefined from "../rules/named-port-undefined.js";
import oneSidedAllow from "../rules/one-sided-allow.js";
import peersSplitAcrossItems from "../rules/peers-split-across-items.js";
import servicePortNotTargetPort from "../rules/service-port-not-target-port.js";
import selectorSelectsNothing from "../rules/selector-selects-nothing.js";
import type { Rule } from "../rule.js";

export const networkPolicyRules: readonly Rule[] = [egressWithoutDns, selectorSelectsNothing, oneSidedAllow, namedPortUndefined, servicePortNotTargetPort, peersSplitAcrossItems];
