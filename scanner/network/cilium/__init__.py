"""CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy -> internal rules, with
Cilium's validation.  One module per level of the object, each citing the Cilium
code it mirrors (cilium/cilium, current main unless stated):

* ``policy``: ``pkg/k8s/apis/cilium.io/v2`` ``Parse`` (spec + specs, all or nothing);
* ``rule``: ``Rule.Sanitize`` (subject, the four lists, default deny);
* ``item``: ``IngressRule``/``EgressRule`` ``sanitize`` (one L3 type, combinations);
* ``peers`` and ``cidr``: ``utils.go`` ``getEndpointSelector`` namespace scoping,
  entities, nodes, groups, Services, FQDNs, CIDR sets and CIDR groups;
* ``l4`` and ``l7``: ``PortProtocol``/``PortRule`` validation, ICMP, L7 rules.

The CRD schema (``+kubebuilder`` markers in ``pkg/policy/api``) is applied first:
fields unknown to it are pruned by the API server (``policy_schema``, NET008), and
violations of its types, enums and patterns are reported as the API server's.
"""

from .cidr import cidr_groups_from
from .peers import ENTITIES, entity_selectors, scope_peer_selector
from .policy import parse_cilium_policy

__all__ = ["ENTITIES", "cidr_groups_from", "entity_selectors", "parse_cilium_policy", "scope_peer_selector"]
