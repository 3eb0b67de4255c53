"""Baselines: only what is new fails the build.

``--write-baseline FILE`` records today's unsuppressed findings by their line-independent
fingerprint (rule, file, subject, container, detail — the SARIF
``kubematrixIdentityHash/v1``, so moving lines never makes a finding new).  A later
``--baseline FILE`` marks findings whose fingerprint the file holds as *known*: they
are still reported and counted, but do not fail the build; baseline entries that no
longer occur are listed as *fixed*, so the file can shrink over time.  A fingerprint
occurring more often than the baseline recorded counts the extra occurrences as new.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .findings import Finding

FORMAT = "kubematrix-baseline/v1"


class BaselineError(Exception):
    """The baseline file is unusable (a usage error)."""


@dataclass(frozen=True, slots=True)
class Entry:
    fingerprint: str
    rule_id: str
    path: str
    subject: str
    message: str

    def to_json(self) -> dict:
        return {
            "fingerprint": self.fingerprint,
            "ruleId": self.rule_id,
            "path": self.path,
            "subject": self.subject,
            "message": self.message,
        }


def entries(findings: Iterable[Finding]) -> list[Entry]:
    return sorted(
        (Entry(f.fingerprint, f.rule_id, f.loc.path, f.subject, f.message) for f in findings),
        key=lambda e: (e.path, e.rule_id, e.fingerprint, e.message),
    )


def render(findings: Iterable[Finding]) -> str:
    """The baseline file for these findings (deterministic: sorted, no timestamps)."""
    data = {"format": FORMAT, "findings": [e.to_json() for e in entries(findings)]}
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


def parse(text: str, shown: str) -> list[Entry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{shown}:{exc.lineno}:{exc.colno}: not a baseline file: {exc.msg}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("findings"), list):
        raise BaselineError(
            f'{shown}:1:1: not a baseline file (expected "format": "{FORMAT}" and a findings list); '
            "write one with --write-baseline"
        )
    out = []
    for i, item in enumerate(data["findings"]):
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise BaselineError(f"{shown}:1:1: findings[{i}] has no fingerprint")
        out.append(
            Entry(
                item["fingerprint"],
                str(item.get("ruleId", "")),
                str(item.get("path", "")),
                str(item.get("subject", "")),
                str(item.get("message", "")),
            )
        )
    return out


def apply(findings: list[Finding], baseline: list[Entry]) -> tuple[list[Finding], tuple[Entry, ...]]:
    """Findings with the known ones marked (``Finding.baseline``), and the baseline
    entries that no longer occur (fixed)."""
    remaining = Counter(e.fingerprint for e in baseline)
    out = []
    for f in findings:
        if f.suppression is None:
            fp = f.fingerprint
            if remaining[fp] > 0:
                remaining[fp] -= 1
                f = replace(f, baseline=True)
        out.append(f)
    fixed: list[Entry] = []
    left = Counter(remaining)
    for e in baseline:
        if left[e.fingerprint] > 0:
            left[e.fingerprint] -= 1
            fixed.append(e)
    return out, tuple(fixed)
