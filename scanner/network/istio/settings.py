"""How the scanned mesh is installed, where Istio releases and installs differ.

Read from the policy file's ``settings.istio`` (schema: ``rules/schema/policy.schema.json``
``$defs.settings.istio``).  Every default is Istio's own, with its source:

* ``rootNamespace``: ``meshConfig.rootNamespace``, default ``istio-system``
  (istio/istio ``pkg/config/mesh/mesh.go`` DefaultMeshConfig);
* ``trustDomain`` / ``trustDomainAliases``: ``meshConfig.trustDomain`` default
  ``cluster.local`` (same file), aliases ``pilot/pkg/security/trustdomain/bundle.go``;
* ``revisions``: the injector webhooks installed (``istio.io/rev`` values that inject);
  a default install has the ``default`` revision only;
* ``enableNamespacesByDefault``: ``sidecarInjectorWebhook.enableNamespacesByDefault``,
  default false (``manifests/charts/istio-control/istio-discovery/values.yaml``);
* ``statusPort``: ``global.proxy.statusPort`` 15020, excluded from inbound capture
  with 15090 and 15021 (``files/injection-template.yaml`` ``-d``, ``pkg/kube/inject``
  ``excludeInboundPort``);
* ``meshedPods``: ``injected`` decides sidecars from the injection labels (Istio);
  ``all`` treats every pod as having a sidecar — the model of analyzers such as
  network-config-analyzer, used to compare with their expectations;
* ``podCidrs``: the cluster's pod address ranges.  Pod IPs are not in manifests, so an
  ``ipBlocks`` test on a pod is undecidable offline unless the block is disjoint from
  (or covers) every pod range given here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_ROOT = "istio-system"
DEFAULT_TRUST_DOMAIN = "cluster.local"


@dataclass(frozen=True, slots=True)
class IstioSettings:
    root_namespace: str = DEFAULT_ROOT
    trust_domain: str = DEFAULT_TRUST_DOMAIN
    trust_domain_aliases: tuple[str, ...] = ()
    revisions: tuple[str, ...] = ("default",)
    enable_namespaces_by_default: bool = False
    status_port: int = 15020
    meshed_pods: str = "injected"  # injected | all
    pod_cidrs: tuple[str, ...] = ()
    ambient: bool = True  # istio-cni with ambient enabled: honour istio.io/dataplane-mode

    @staticmethod
    def from_mapping(data: Mapping[str, Any] | None) -> IstioSettings:
        data = dict(data or {})
        cidrs = tuple(str(ipaddress.ip_network(str(c), strict=False)) for c in data.get("podCidrs", ()) or ())
        return IstioSettings(
            root_namespace=str(data.get("rootNamespace", DEFAULT_ROOT)),
            trust_domain=str(data.get("trustDomain", DEFAULT_TRUST_DOMAIN)),
            trust_domain_aliases=tuple(str(a) for a in data.get("trustDomainAliases", ()) or ()),
            revisions=tuple(str(r) for r in data.get("revisions", ("default",)) or ()),
            enable_namespaces_by_default=bool(data.get("enableNamespacesByDefault", False)),
            status_port=int(data.get("statusPort", 15020)),
            meshed_pods=str(data.get("meshedPods", "injected")),
            pod_cidrs=cidrs,
            ambient=bool(data.get("ambient", True)),
        )

    @property
    def local_domains(self) -> frozenset[str]:
        """Trust domains a policy principal may name to mean this mesh: the local one,
        its aliases and the literal ``cluster.local`` (bundle.go ReplaceTrustDomainAliases)."""
        return frozenset({self.trust_domain, DEFAULT_TRUST_DOMAIN, *self.trust_domain_aliases})


__all__ = ["DEFAULT_ROOT", "DEFAULT_TRUST_DOMAIN", "IstioSettings"]
