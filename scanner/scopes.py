"""Which policy file governs which scanned file.

Like other linters' configuration discovery, a policy file named ``kubematrix.yaml`` (or
``.yml``) governs its own directory and everything below it.  Without ``--policy``:

* every ``kubematrix.yaml`` in the scanned tree governs its directory;
* for a scanned directory no in-tree policy governs, the nearest ``kubematrix.yaml``
  above it does (the search stops at a directory holding ``.git``, the repository root);
* two policy files whose directories nest (or share one) are a usage error: which
  promises apply would be ambiguous;
* files no policy governs are still scanned, with the generic rules only.

With ``--policy`` that file governs everything scanned, and every policy file in the
tree that it displaces is reported (POL003) — as is any document that is a
kubematrix policy but is not named so that discovery finds it.  Nothing is silently
ignored: the report says which policy governed which files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .findings import Finding
from .loader.documents import DocClass, LoadResult
from .loader.exclude import excluded
from .policy import (
    EMPTY_POLICY,
    Policy,
    PolicyError,
    is_policy_file_name,
    load_policy,
    policy_from_parsed,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """A policy and the files it governs (display paths)."""

    policy: Policy
    files: frozenset[str]
    directory: str  # display form of the governed directory, "" for "every scanned file"
    excluded: frozenset[str] = frozenset()  # files the policy's ``exclude`` leaves out (not in ``files``)


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _ancestors(path: str) -> Iterator[str]:
    """``path`` and every directory above it (absolute, normalised strings)."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _governing(path: str, by_directory: Mapping[str, Policy]) -> Policy | None:
    """The policy whose directory holds ``path`` (an absolute file path): policies never
    nest, so the first directory up that has one is the only one."""
    for directory in _ancestors(os.path.dirname(path)):
        if directory in by_directory:
            return by_directory[directory]
    return None


def _nearest_above(root: Path) -> Path | None:
    """The nearest policy file in a parent of ``root`` (for a file: from its own
    directory up), stopping at the repository root (a directory holding ``.git``)."""
    if root.is_dir() and (root / ".git").exists():
        return None
    for parent in root.parents:
        for name in ("kubematrix.yaml", "kubematrix.yml"):
            candidate = parent / name
            if candidate.is_file() and not candidate.is_symlink():
                return candidate
        if (parent / ".git").exists():
            return None
    return None


def _in_tree_policies(inputs: LoadResult) -> dict[str, Policy]:
    """Display path -> Policy for every in-tree file named kubematrix.yaml/yml, typed
    from the documents the loader already parsed (read once)."""
    out: dict[str, Policy] = {}
    named = {shown for shown in inputs.files if is_policy_file_name(PurePosixPath(shown).name)}
    documents: dict[str, list] = {shown: [] for shown in named}
    for d in inputs.documents:
        if d.path in documents and d.data is not None:
            documents[d.path].append(d.data)
    problems_of: dict[str, list] = {shown: [] for shown in named}
    for p in inputs.problems:
        if p.loc.path in problems_of and p.rule_id == "INPUT001":
            problems_of[p.loc.path].append(p)
    for shown in [f for f in inputs.files if f in named]:
        docs, problems = documents[shown], problems_of[shown]
        real = Path(os.path.abspath(inputs.sources[shown]))
        out[shown] = policy_from_parsed(docs, problems, shown, real.parent)
    return out


def _unnamed_policies(inputs: LoadResult, applied: set[str]) -> list[Finding]:
    """POL003 for kubematrix policy documents that govern nothing."""
    out = []
    for doc in inputs.documents:
        if doc.cls is not DocClass.KUBEMATRIX_POLICY or doc.path in applied:
            continue
        why = (
            "--policy names another policy file, which governs every scanned file"
            if is_policy_file_name(PurePosixPath(doc.path).name)
            else "discovery reads only files named kubematrix.yaml; rename it or pass --policy"
        )
        out.append(
            Finding(
                "POL003",
                f"this kubematrix policy is not applied: {why}; none of its promises is checked",
                doc.loc,
                subject=doc.path,
                detail="not-applied",
            )
        )
    return out


def _check_overlaps(policies: list[Policy]) -> None:
    """Two policy files govern nested (or the same) directories: a usage error.  Each
    directory's ancestors are looked up, not every pair compared (a monorepo may hold
    hundreds of policy files)."""
    by_directory: dict[str, Policy] = {}
    for inner in sorted(policies, key=lambda p: (len(str(p.directory)), p.path or "")):
        if inner.directory is None:
            continue
        for above in _ancestors(str(inner.directory)):
            outer = by_directory.get(above)
            if outer is not None:
                raise PolicyError(
                    f"{inner.path}:1:1: policy files {outer.path} and {inner.path} both govern "
                    f"{inner.path.rsplit('/', 1)[0] if '/' in (inner.path or '') else '.'}: which promises apply would "
                    "be ambiguous; keep one, scan the directories separately, or pass --policy"
                )
        by_directory[str(inner.directory)] = inner


def plan(
    inputs: LoadResult, roots: list[Path], explicit: Policy | None, cwd: Path
) -> tuple[list[Scope], list[Finding]]:
    """The scopes of one scan and the POL003 findings for policies not applied.
    Raises PolicyError (a usage error) for an invalid or ambiguous policy file."""
    every = frozenset(inputs.files)
    if explicit is not None:
        return [_excluding(Scope(explicit, every, ""), inputs)], _unnamed_policies(inputs, {explicit.path or ""})
    found = _in_tree_policies(inputs)
    policies = list(found.values())
    # Rendered documents (stdin, --render) live where their template lives.
    virtual = [Path(os.path.abspath(inputs.sources[f])) for f in sorted(inputs.rendered)]
    for root in [*roots, *virtual]:
        absolute = Path(os.path.abspath(root))
        directory = absolute if absolute.is_dir() else absolute.parent
        if any(p.directory is not None and _inside(directory, p.directory) for p in policies):
            continue
        above = _nearest_above(absolute)
        if above is not None and not any(p.directory == above.parent for p in policies):
            policies.append(load_policy(above, cwd))
    _check_overlaps(policies)
    by_directory = {str(p.directory): p for p in policies if p.directory is not None}
    files_of: dict[str, set[str]] = {str(p.directory): set() for p in policies if p.directory is not None}
    for f in inputs.files:
        policy = _governing(os.path.abspath(inputs.sources[f]), by_directory)
        if policy is not None:
            files_of[str(policy.directory)].add(f)
    scopes = [
        _excluding(Scope(policy, frozenset(files_of[str(policy.directory)]), _directory_text(policy)), inputs)
        for policy in sorted(policies, key=lambda p: p.path or "")
        if policy.directory is not None
    ]
    governed = set().union(*files_of.values()) if files_of else set()
    rest = every - governed
    if rest or not scopes:
        scopes.append(Scope(EMPTY_POLICY, frozenset(rest), ""))
    return scopes, _unnamed_policies(inputs, set(found))


def _excluding(scope: Scope, inputs: LoadResult) -> Scope:
    """The scope without the files its policy's ``exclude`` globs name (relative to the
    policy file's directory)."""
    if not scope.policy.exclude or scope.policy.directory is None:
        return scope
    base = scope.policy.directory
    out = frozenset(
        f
        for f in scope.files
        if excluded(
            Path(os.path.abspath(inputs.sources[f])).relative_to(base).as_posix()
            if _inside(Path(os.path.abspath(inputs.sources[f])), base)
            else f,
            scope.policy.exclude,
        )
    )
    return Scope(scope.policy, scope.files - out, scope.directory, out)


def _directory_text(policy: Policy) -> str:
    shown = policy.path or ""
    return shown.rsplit("/", 1)[0] + "/" if "/" in shown else "./"


def single_policy(inputs: LoadResult, roots: list[Path], explicit: Policy | None, cwd: Path) -> Policy:
    """The one policy for commands that evaluate one graph (graph, explain)."""
    scopes, _ = plan(inputs, roots, explicit, cwd)
    applied = [s.policy for s in scopes if s.policy.path is not None]
    if len(applied) > 1:
        raise PolicyError(
            f"{applied[1].path}:1:1: several policy files govern the scanned paths "
            f"({', '.join(p.path or '' for p in applied)}); scan one directory or pass --policy"
        )
    return applied[0] if applied else EMPTY_POLICY
