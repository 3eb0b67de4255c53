"""Which pod labels become part of a Cilium identity.

Cilium keeps only labels accepted by its label-prefix filter
(cilium/cilium ``pkg/labelsfilter/filter.go``, ``defaultLabelPrefixCfg``).  Each
entry is a regular expression that must match at the *start* of the label key;
``!`` marks an exclusion.  A label is kept when no exclusion matches, or when the
longest matching inclusion is longer than the shortest matching exclusion.  A
selector on a dropped label (``pod-template-hash``, ``kubernetes.io/...``) never
matches anything in Cilium.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIXES: tuple[str, ...] = (
    "reserved:.*",
    r"io\.kubernetes\.pod\.namespace",
    r"io\.cilium\.k8s\.namespace\.labels",
    r"app\.kubernetes\.io",
    r"io\.cilium\.k8s\.policy\.cluster",
    r"!io\.kubernetes",
    r"!kubernetes\.io",
    r"!statefulset\.kubernetes\.io/pod-name",
    r"!apps\.kubernetes\.io/pod-index",
    r"!batch\.kubernetes\.io/job-completion-index",
    r"!.*beta\.kubernetes\.io",
    r"!k8s\.io",
    r"!pod-template-generation",
    r"!pod-template-hash",
    r"!controller-revision-hash",
    r"!annotation.*",
    r"!etcd_node",
)


@dataclass(frozen=True, slots=True)
class _Prefix:
    source: str
    expr: re.Pattern
    ignore: bool


@dataclass(frozen=True, slots=True)
class LabelFilter:
    prefixes: tuple[_Prefix, ...]
    whitelist: bool  # only user-supplied inclusions make the filter a whitelist

    @staticmethod
    def parse(entries: tuple[str, ...] = DEFAULT_PREFIXES, extra: tuple[str, ...] = ()) -> LabelFilter:
        out = []
        whitelist = False
        for n, raw in enumerate(entries + extra):
            source, _, prefix = raw.partition(":") if ":" in raw else ("", "", raw)
            ignore = prefix.startswith("!")
            if ignore:
                prefix = prefix[1:]
            out.append(_Prefix(source, re.compile(prefix), ignore))
            if n >= len(entries) and not ignore:
                whitelist = True
        return LabelFilter(tuple(out), whitelist)

    def keeps(self, key: str, source: str = "k8s") -> bool:
        included = ignored = 0
        for p in self.prefixes:
            if p.source and p.source != source:
                continue
            m = p.expr.search(key)
            if m is None or m.start() != 0:
                continue
            length = m.end()
            if p.ignore:
                if ignored == 0 or length < ignored:
                    ignored = length
            elif length > included:
                included = length
        return (not self.whitelist and ignored == 0) or included > ignored


DEFAULT_FILTER = LabelFilter.parse()
