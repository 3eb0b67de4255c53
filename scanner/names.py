"""Names the policy file uses, and the suggestions when one resolves to nothing."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'blog-system'?"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""
