"""Path globs for files not to scan (``--exclude``, the policy file's ``exclude``).

A glob matches a path (``/``-separated) or any trailing part of it that starts at a
directory boundary, as ``.gitignore`` patterns do: ``charts/**`` excludes
``k8s/charts/x/values.yaml``.  ``*`` and ``**`` both match across directories
(``fnmatch``), so ``charts/**`` and ``charts/*`` mean the same.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable


def _tails(path: str) -> Iterable[str]:
    yield path
    for i, ch in enumerate(path):
        if ch == "/":
            yield path[i + 1 :]


def excluded(path: str, globs: Iterable[str]) -> bool:
    patterns = [g[3:] if g.startswith("**/") else g.lstrip("/") for g in globs]
    return any(fnmatch.fnmatchcase(tail, p) for p in patterns for tail in _tails(path))
