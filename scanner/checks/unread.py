"""Input the scan could not read, for the findings that depend on it.

When a file does not parse (or is not read at all), an object defined in it is
"missing" for every check that looks for it: a documented flow's endpoint (NET006),
a SecurityContext table row (SEC007), a documented backup CronJob (BAK001).  Those
findings name the unreadable input instead of claiming the object does not exist,
so the one real cause (the INPUT001/INPUT004 finding) is fixed first.
"""

from __future__ import annotations

from ..findings import Finding
from .base import CheckContext

# Problem details that mean content was dropped, not just flagged.
_LOST = frozenset({"read", "read-dir", "decode", "size", "symlink", "parse", "template", "depth", "values", "render"})
_LOST_DOC_SUFFIXES = ("aliases", "depth", "recursive-alias", "undefined-alias")


def _lost(f: Finding) -> bool:
    if f.rule_id not in ("INPUT001", "INPUT004"):
        return False
    if f.detail in _LOST or f.detail.startswith("template:"):
        return True
    return f.detail.startswith("doc:") and f.detail.endswith(_LOST_DOC_SUFFIXES)


def unread_inputs(ctx: CheckContext) -> list[Finding]:
    """The loader's findings about input (files, documents) that was not read, sorted."""
    # Files that could not be read or parsed first, then unrendered template documents.
    return ctx.shared(
        "unread_inputs",
        lambda: sorted(
            (f for f in ctx.inputs.problems if _lost(f)), key=lambda f: (f.detail.startswith("template"), f.sort_key)
        ),
    )


def may_be_there(ctx: CheckContext) -> str:
    """'' when everything was read; else a clause for a "not found" finding."""
    lost = unread_inputs(ctx)
    if not lost:
        return ""
    first = lost[0]
    more = f" and {len(lost) - 1} more" if len(lost) > 1 else ""
    return (
        f"; {len(lost)} input{'s' if len(lost) > 1 else ''} could not be read ({first.loc.path}:"
        f"{first.loc.line}, {first.rule_id}{more}), so it may be defined there: fix that first"
    )


__all__ = ["may_be_there", "unread_inputs"]
