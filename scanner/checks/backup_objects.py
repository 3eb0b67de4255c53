"""BAK006: the objects a backup writes fall under the S3 lifecycle rule meant to expire them.

The seed dumps to ``/backup/mysql-backup-<date>.sql.gz`` on a shared volume, uploads with
``aws s3 cp /backup/ s3://jimin-mysql-backup/ --recursive --exclude "*" --include
"mysql-backup-*.sql.gz"`` and expires the prefix ``mysql-backup-`` after 7 days.  Rename
the dump, or upload under another key, and backups pile up forever (or the lifecycle rule
deletes other objects).  So the chain is traced from the commands, without running them:

1. the dump: a ``mysqldump``/``mariadb-dump``/``pg_dump``/``pg_dumpall``/``mongodump``
   pipeline and the file it writes (``--result-file``/``-f``/``--archive``, else the
   pipeline's ``>`` redirection), renamed by a later ``gzip FILE``/``mv``; or a stream
   into ``aws s3 cp - s3://...``;
2. the file through the pod's volumes to the container that uploads it (mount paths and
   ``subPath``);
3. the upload: ``aws s3 cp|mv|sync``, with aws-cli's own rules (``customizations/s3/
   fileformat.py``: a recursive copy keys each file as destination prefix + path below
   the source directory, a single file keeps the given key or, after a ``/``, its own
   name; ``filters.py``: every file starts included, each ``--exclude``/``--include``
   later on the command line wins, patterns are ``fnmatch`` on the source directory
   joined with the pattern, ``*`` crossing ``/``);
4. the key against the lifecycle rule's prefix (S3 lifecycle ``Filter.Prefix`` is a
   plain string prefix of the key:
   https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-filters.html).

A part written as ``$(date ...)`` is unknown and may be any text: a key is proven under
the prefix only when it is for every value.  A mismatch is reported at the command (the
dump's name, or the upload's destination when that is where the key leaves the prefix)
and at the lifecycle rule's prefix; a chain that cannot be traced is reported as such.
Which lifecycle applies to which backup: the ``retention.s3Lifecycle`` entry whose
``bucket`` is the backup's ``destination.bucket``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache, lru_cache

from ..findings import Finding
from ..located import Loc
from ..model.types import CommandItem, Container, Workload
from ..names import did_you_mean
from ..policy import BackupEntry, LifecycleEntry, backup_entries, lifecycle_entries
from ..promises import backup_part_key, retention_key
from .base import CheckContext, workload_finding
from .retention import LifecycleRule, lifecycle_rule
from .secrets import looks_secret
from .shell import (
    Command,
    Pattern,
    Pipeline,
    Script,
    Unknown,
    Word,
    locate,
    parse_script,
)

_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
# Dump tools and the options that name their output file.
_DUMP_OUTPUT = {
    "mysqldump": ("--result-file", "-r"),
    "mariadb-dump": ("--result-file", "-r"),
    "pg_dump": ("--file", "-f"),
    "pg_dumpall": ("--file", "-f"),
    "mongodump": ("--archive",),
}
# Compressors that replace FILE by FILE<suffix> unless told to keep or write stdout.
_COMPRESS = {"gzip": ".gz", "pigz": ".gz", "bzip2": ".bz2", "xz": ".xz"}
_KEEP_FLAGS = frozenset({"-k", "--keep", "-c", "--stdout", "--to-stdout", "-d", "--decompress"})
# aws-cli options that take a value (global ones and those of s3 cp/mv/sync).
_AWS_VALUE_OPTIONS = frozenset(
    {
        "--region",
        "--profile",
        "--endpoint-url",
        "--output",
        "--query",
        "--ca-bundle",
        "--cli-read-timeout",
        "--cli-connect-timeout",
        "--color",
        "--cli-binary-format",
        "--exclude",
        "--include",
        "--acl",
        "--sse",
        "--sse-c",
        "--sse-c-key",
        "--sse-kms-key-id",
        "--sse-c-copy-source",
        "--sse-c-copy-source-key",
        "--storage-class",
        "--grants",
        "--website-redirect",
        "--content-type",
        "--cache-control",
        "--content-disposition",
        "--content-encoding",
        "--content-language",
        "--expires",
        "--metadata",
        "--metadata-directive",
        "--expected-size",
        "--request-payer",
        "--source-region",
        "--page-size",
        "--checksum-mode",
        "--checksum-algorithm",
        "--copy-props",
        "--exact-timestamps",
    }
)


@dataclass(frozen=True, slots=True)
class _Source:
    """A container's command as a script, and how to find a word's line."""

    container: Container
    script: Script
    item: CommandItem | None  # the shell script's string; None for an exec-form command
    items: tuple[CommandItem, ...]


@dataclass(frozen=True, slots=True)
class _Upload:
    container: Container
    src: Pattern  # "-" for standard input
    bucket: str | None  # None: not known offline
    key: Pattern
    dir_op: bool
    filters: tuple[tuple[str, Pattern], ...]
    word: Word  # the destination
    source: _Source


@dataclass(frozen=True, slots=True)
class _Dump:
    container: Container
    path: Pattern | None  # None: written to standard output (the log)
    word: Word | None
    source: _Source
    stream: _Upload | None = None  # piped straight into aws s3 cp - s3://...
    why: str = "the dump goes to the container's standard output (its log), not to a file"


# --- Reading the containers' commands -------------------------------------------------------


def _env(container: Container) -> dict[str, Pattern]:
    """Variables a script may use: literal env values whose names do not look secret
    (a secret value must never end up in a message)."""
    return {
        e.name: Pattern.of((e.value,))
        for e in container.env
        if e.source == "literal" and e.value is not None and not looks_secret(e.name, e.value)
    }


def _sources(container: Container) -> list[_Source]:
    items = container.command_items
    argv = [i.text for i in items]
    if not argv:
        return []
    if posixpath.basename(argv[0]) in _SHELLS:
        flag = next((n for n, a in enumerate(argv[1:], 1) if re.fullmatch(r"-[a-z]*c[a-z]*", a)), None)
        if flag is not None and flag + 1 < len(argv):
            item = items[flag + 1]
            return [_Source(container, parse_script(item.text, _env(container)), item, items)]
    # exec form: one command whose words are the items (offsets are item indexes)
    words = tuple(Word((a,), a, n) for n, a in enumerate(argv))
    return [_Source(container, Script((Pipeline((Command(words, ()),), ""),), ()), None, items)]


def word_loc(ctx: CheckContext, source: _Source, word: Word) -> Loc:
    """The file line a word of a container command is written on."""
    if source.item is None:
        return source.items[word.offset].loc if word.offset < len(source.items) else source.container.loc
    return locate(ctx, source.item.loc, source.item.text, word)


def _option_value(argv: tuple[Word, ...], names: tuple[str, ...]) -> Word | None:
    """``--name=value``, ``--name value``, ``-rvalue`` or ``-r value``."""
    for n, w in enumerate(argv):
        text = w.parts[0] if w.parts and isinstance(w.parts[0], str) else ""
        for name in names:
            if text == name and n + 1 < len(argv):
                return argv[n + 1]
            if name.startswith("--") and text.startswith(name + "="):
                return Word(Pattern.of((text[len(name) + 1 :],) + w.parts[1:]).parts, w.raw, w.offset)
            if not name.startswith("--") and text.startswith(name) and len(text) > len(name):
                return Word(Pattern.of((text[len(name) :],) + w.parts[1:]).parts, w.raw, w.offset)
    return None


def _upload(command: Command, source: _Source) -> _Upload | None:
    """An ``aws [opts] s3 cp|mv|sync SRC DST [opts]`` command."""
    argv = command.argv()
    if not argv or posixpath.basename(argv[0].literal or "") != "aws":
        return None
    rest, n = list(argv[1:]), 0
    while n < len(rest) and (rest[n].literal or "").startswith("--"):
        n += 2 if rest[n].literal in _AWS_VALUE_OPTIONS else 1
    if (
        rest[n : n + 1] == []
        or rest[n].literal != "s3"
        or n + 1 >= len(rest)
        or rest[n + 1].literal not in ("cp", "mv", "sync")
    ):
        return None
    sub = rest[n + 1].literal
    positionals, filters, recursive = [], [], False
    words = rest[n + 2 :]
    k = 0
    while k < len(words):
        text = words[k].literal or ""
        if text in ("--exclude", "--include") and k + 1 < len(words):
            filters.append((text[2:], words[k + 1].pattern()))
            k += 2
        elif text == "--recursive":
            recursive, k = True, k + 1
        elif text.startswith("--"):
            k += 2 if text in _AWS_VALUE_OPTIONS else 1
        else:
            positionals.append(words[k])
            k += 1
    if len(positionals) != 2:
        return None
    src, dst = positionals
    dest = dst.pattern()
    if not dest.head.startswith("s3://"):
        return None
    rest_head = dest.head[5:]
    bucket, slash, key_head = rest_head.partition("/")
    if not slash and len(dest.parts) > 1:
        bucket_known = None  # s3://$BUCKET...: the bucket is not known offline
    else:
        bucket_known = bucket
    key = Pattern.of((key_head,) + dest.parts[1:]) if slash else Pattern(())
    return _Upload(
        source.container, src.pattern(), bucket_known, key, recursive or sub == "sync", tuple(filters), dst, source
    )


def _dumps_and_uploads(workload: Workload) -> tuple[list[_Dump], list[_Upload], list[str]]:
    dumps: list[_Dump] = []
    uploads: list[_Upload] = []
    problems: list[str] = []
    for container in workload.containers:
        for source in _sources(container):
            problems += [f"container '{container.name}': {p}" for p in source.script.problems]
            found: list[_Dump] = []
            for pipeline in source.script.pipelines:
                for command in pipeline.commands:
                    up = _upload(command, source)
                    if up is not None and up.src.shown() != "-":
                        uploads.append(up)
                dump = _dump(pipeline.commands, source)
                if dump is not None:
                    found.append(dump)
                    continue
                found = [_renamed(d, pipeline.commands) for d in found]
            dumps += found
    return dumps, uploads, problems


def _dump(commands: tuple[Command, ...], source: _Source) -> _Dump | None:
    tool = next((c for c in commands if c.name in _DUMP_OUTPUT), None)
    if tool is None:
        return None
    option = _option_value(tool.argv(), _DUMP_OUTPUT[tool.name])
    if option is not None:
        return _Dump(source.container, option.pattern(), option, source)
    last = commands[-1]
    stream = _upload(last, source) if last is not tool else None
    if stream is not None:
        return _Dump(source.container, None, stream.word, source, stream)
    if last.name == "aws" and last is not tool:
        return _Dump(source.container, None, None, source, why="it is piped into an aws command that is not understood")
    out = last.stdout()
    if out is not None:
        return _Dump(source.container, out.target.pattern(), out.target, source)
    if last.name == "tee" and len(last.argv()) > 1:
        target = next((w for w in last.argv()[1:] if not (w.literal or "").startswith("-")), None)
        if target is not None:
            return _Dump(source.container, target.pattern(), target, source)
    return _Dump(source.container, None, None, source)


def _renamed(dump: _Dump, commands: tuple[Command, ...]) -> _Dump:
    """A later ``gzip FILE`` or ``mv FILE NEW`` changes the file name."""
    if dump.path is None:
        return dump
    for c in commands:
        argv = c.argv()
        operands = [w for w in argv[1:] if not (w.literal or "").startswith("-")]
        flags = {w.literal for w in argv[1:] if (w.literal or "").startswith("-")}
        if c.name in _COMPRESS and not flags & _KEEP_FLAGS and any(w.pattern() == dump.path for w in operands):
            return replace(dump, path=dump.path + Pattern.of((_COMPRESS[c.name],)))
        if c.name == "mv" and len(operands) == 2 and operands[0].pattern() == dump.path:
            target = operands[1].pattern()
            if target.known and (target.head.endswith("/")):
                target = target + Pattern.of((_basename(dump.path).shown(),))
            return replace(dump, path=target, word=operands[1])
    return dump


def uploads_of(workload: Workload) -> list[_Upload]:
    """The ``aws s3 cp|mv|sync`` uploads of a workload's containers that this reader understands."""
    return _dumps_and_uploads(workload)[1]


def upload_loc(ctx: CheckContext, upload: _Upload) -> Loc:
    return word_loc(ctx, upload.source, upload.word)


# --- Patterns: prefixes and fnmatch with unknown parts ---------------------------------------


def starts_with(p: Pattern, prefix: str) -> bool | None:
    """Whether every value of ``p`` starts with ``prefix`` (True), none does (False), or it depends (None)."""
    head = p.head
    if p.known or len(head) >= len(prefix):
        return head.startswith(prefix)
    return None if prefix.startswith(head) else False


def _basename(p: Pattern) -> Pattern:
    for n in range(len(p.parts) - 1, -1, -1):
        part = p.parts[n]
        if isinstance(part, str) and "/" in part:
            return Pattern.of((part.rsplit("/", 1)[1],) + p.parts[n + 1 :])
    return p


def _glob_tokens(glob: str) -> tuple[object, ...]:
    """fnmatch tokens: '*', '?', a frozenset (or ('!', set)) for [...], else a character."""
    out: list[object] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch in "*?":
            out.append(ch)
            i += 1
        elif ch == "[":
            j = i + 1
            if j < len(glob) and glob[j] == "!":
                j += 1
            if j < len(glob) and glob[j] == "]":
                j += 1
            end = glob.find("]", j)
            if end < 0:
                out.append("[")
                i += 1
                continue
            body = glob[i + 1 : end]
            negate = body.startswith("!")
            chars = set()
            body = body[1:] if negate else body
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    chars.update(chr(c) for c in range(ord(body[k]), ord(body[k + 2]) + 1))
                    k += 3
                else:
                    chars.add(body[k])
                    k += 1
            out.append(("set", negate, frozenset(chars)))
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return tuple(out)


def _single(token: object, ch: str) -> bool:
    if token == "?":
        return True
    if isinstance(token, tuple):
        _, negate, chars = token
        return (ch in chars) != negate
    return token == ch


@lru_cache(maxsize=4096)
def _always(glob: tuple[object, ...], text: tuple[str | None, ...]) -> bool:
    """Every value of ``text`` (None: any string) matches: only ``*`` can absorb an unknown."""

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(glob):
            return j == len(text)
        if glob[i] == "*":
            return go(i + 1, j) or (j < len(text) and go(i, j + 1))
        if j == len(text) or text[j] is None:
            return False
        return _single(glob[i], text[j]) and go(i + 1, j + 1)

    return go(0, 0)


@lru_cache(maxsize=4096)
def _possibly(glob: tuple[object, ...], text: tuple[str | None, ...]) -> bool:
    """Some value of ``text`` matches: an unknown may become any string."""

    @cache
    def go(i: int, j: int) -> bool:
        if j < len(text) and text[j] is None:  # the unknown: empty, or it takes what glob[i] needs
            return go(i, j + 1) or (i < len(glob) and (go(i + 1, j) or go(i + 1, j + 1)))
        if i == len(glob):
            return j == len(text)
        if glob[i] == "*":
            return go(i + 1, j) or (j < len(text) and go(i, j + 1))
        if j == len(text):
            return False
        return _single(glob[i], text[j]) and go(i + 1, j + 1)

    return go(0, 0)


_MATCH_LIMIT = 400  # characters of pattern plus path; beyond it (no real backup path) say "unknown"


def matches(glob: Pattern, text: Pattern) -> bool | None:
    """Whether ``text`` matches the fnmatch ``glob`` for all of its values (True), none (False), or some (None)."""
    if not glob.known:
        return None
    tokens, chars = _glob_tokens(glob.shown()), text.tokens()
    if len(tokens) + len(chars) > _MATCH_LIMIT:  # the matchers recurse once per character
        return None
    if _always(tokens, chars):
        return True
    return None if _possibly(tokens, chars) else False


def _included(upload: _Upload, root: str, path: Pattern) -> bool | None:
    """aws-cli filters.py: included at first, the last matching filter decides."""
    status: bool | None = True
    for kind, pattern in upload.filters:
        full = Pattern.of((root.rstrip("/") + "/",) + pattern.parts) if pattern.head[:1] != "/" else pattern
        hit = matches(full, path)
        if hit is True:
            status = kind == "include"
        elif hit is None and status != (kind == "include"):
            status = None
    return status


# --- Tracing one dump to its S3 key ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Trace:
    key: Pattern | None  # the object key, when traced
    upload: _Upload | None
    problem: str = ""  # why it is not uploaded or cannot be traced
    never: bool = False  # proven never uploaded (not merely untraceable)


def _volume_path(container: Container, path: Pattern) -> tuple[str, Pattern] | None:
    """(volume name, path inside the volume) for a path on one of the container's mounts."""
    for mount in sorted(container.mounts, key=lambda m: -len(m.path)):
        root = mount.path.rstrip("/") + "/"
        if starts_with(path, root):
            inner = path.without_head(len(root))
            return mount.name, (Pattern.of((mount.sub_path.rstrip("/") + "/",)) + inner) if mount.sub_path else inner
    return None


def _seen_by(container: Container, volume: str, inner: Pattern) -> Pattern | None:
    """The path under which ``container`` sees a file of ``volume``."""
    for mount in container.mounts:
        if mount.name != volume:
            continue
        sub = mount.sub_path.rstrip("/") + "/" if mount.sub_path else ""
        if not sub or starts_with(inner, sub):
            return Pattern.of((mount.path.rstrip("/") + "/",)) + inner.without_head(len(sub))
    return None


def _through(upload: _Upload, path: Pattern) -> _Trace:
    """Whether ``upload`` (reading ``path`` in its container) uploads the file, and its key."""
    src = upload.src.shown()
    if not upload.src.head.startswith("/") or (upload.dir_op and not upload.src.known):
        return _Trace(None, upload, f"the upload source {src} is not a known absolute path")
    if upload.dir_op:
        root = posixpath.normpath(src)
        under = starts_with(path, root.rstrip("/") + "/")
        if under is not True:
            return _Trace(None, upload, f"it is not below the uploaded directory {src}", never=under is False)
        rel = path.without_head(len(root.rstrip("/")) + 1)
        prefix = upload.key.shown() if upload.key.known else None
        key = (
            Pattern.of((prefix + ("/" if prefix and not prefix.endswith("/") else ""),))
            if prefix is not None
            else upload.key + Pattern.of(("/",))
        ) + rel
    else:
        if path != upload.src:  # equal text, unknown parts included (a variable set once)
            return _Trace(None, upload, f"the upload copies {src}, another file", never=path.known and upload.src.known)
        root = posixpath.dirname(upload.src.head) if "/" in upload.src.head else "/"
        key = upload.key + _basename(path) if not upload.key.parts or upload.key.shown().endswith("/") else upload.key
    included = _included(upload, root, path)
    if included is not True:
        shown = " ".join(f'--{k} "{p.shown()}"' for k, p in upload.filters)
        return _Trace(
            None,
            upload,
            f"the upload's filters ({shown}) {'exclude' if included is False else 'may exclude'} it",
            never=included is False,
        )
    return _Trace(key, upload)


def _trace(dump: _Dump, uploads: list[_Upload], bucket: str) -> _Trace:
    if dump.stream is not None:
        if dump.stream.bucket != bucket:
            return _Trace(
                None,
                dump.stream,
                f"it is streamed to s3://{dump.stream.bucket or '<unknown>'}, not s3://{bucket}",
                never=dump.stream.bucket is not None,
            )
        return _Trace(dump.stream.key, dump.stream)
    if dump.path is None:
        return _Trace(None, None, dump.why)
    mine = [u for u in uploads if u.bucket == bucket]
    if not mine:
        return _Trace(None, None, f"no aws s3 cp/mv/sync to s3://{bucket} was understood in the commands")
    on_volume = _volume_path(dump.container, dump.path)
    reasons: list[_Trace] = []
    for up in mine:
        if up.container is dump.container:
            seen = dump.path
        elif on_volume is None:
            reasons.append(
                _Trace(
                    None,
                    up,
                    f"it is written outside any volume, so container '{up.container.name}' cannot read it",
                    never=True,
                )
            )
            continue
        else:
            seen = _seen_by(up.container, *on_volume)
            if seen is None:
                reasons.append(
                    _Trace(
                        None,
                        up,
                        f"container '{up.container.name}' does not mount volume '{on_volume[0]}' it is written to",
                        never=True,
                    )
                )
                continue
        traced = _through(up, seen)
        if traced.key is not None:
            return traced
        reasons.append(traced)
    never = all(r.never for r in reasons)
    return _Trace(
        None, reasons[0].upload if reasons else None, "; ".join(dict.fromkeys(r.problem for r in reasons)), never
    )


# --- The check ----------------------------------------------------------------------------------


def _lifecycles(ctx: CheckContext) -> Iterator[Finding | tuple[BackupEntry, LifecycleEntry]]:
    """(backup, lifecycle) pairs linked by bucket; a lifecycle bucket no backup uploads to is a finding."""
    backups = backup_entries(ctx.policy)
    buckets = [b.bucket for b in backups if b.bucket]
    for lc in lifecycle_entries(ctx.policy):
        if lc.bucket is None:
            continue
        linked = [b for b in backups if b.bucket == lc.bucket]
        if not linked:
            yield Finding(
                "BAK006",
                f"the lifecycle entry for {lc.file} names bucket {lc.bucket}, which no documented "
                f"backup uploads to, so nothing is cross-checked{did_you_mean(lc.bucket, buckets)}",
                lc.where("bucket"),
                subject=f"lifecycle {lc.file}",
                detail=f"bucket:{lc.bucket}",
                promises=(retention_key("s3Lifecycle", lc.file),),
            )  # the entry's own row
        for b in linked:
            yield b, lc


def check_objects(ctx: CheckContext) -> Iterator[Finding]:
    """BAK006: the dump is uploaded under a key the documented S3 lifecycle rule expires."""
    for item in _lifecycles(ctx):
        if isinstance(item, Finding):
            yield item
            continue
        entry, lc = item
        workload = next((w for w in ctx.model.workloads if w.ref == entry.cron_job and w.kind == "CronJob"), None)
        if workload is None:
            continue  # BAK001
        key = backup_part_key(entry.name, f"lifecycle:{lc.file}")
        for f in _check_pair(ctx, entry, lc, workload):
            yield replace(f, promises=(key,))


def _check_pair(ctx: CheckContext, entry: BackupEntry, lc: LifecycleEntry, workload: Workload) -> Iterator[Finding]:
    rule = lifecycle_rule(ctx, lc)
    prefix = rule.prefix if rule is not None and isinstance(rule.prefix, str) else lc.prefix
    if prefix is None:
        yield Finding(
            "BAK006",
            f"the lifecycle rule of {lc.file} cannot be read and the policy documents no prefix, "
            f"so backup {entry.name}'s objects cannot be checked against it (see RET001)",
            lc.where("file"),
            subject=workload.subject,
            detail="no-prefix",
        )
        return
    anchor = next((c.command_loc for c in workload.containers if c.command_loc is not None), workload.loc)
    dumps, uploads, problems = _dumps_and_uploads(workload)
    if problems:
        yield workload_finding(
            "BAK006",
            workload,
            f"the backup commands cannot be traced ({'; '.join(problems)}), so "
            f"their S3 keys are not checked against prefix '{prefix}'",
            anchor,
            detail="untraced",
        )
        return
    if not dumps:
        yield workload_finding(
            "BAK006",
            workload,
            "no dump command (mysqldump, mariadb-dump, pg_dump, pg_dumpall, "
            "mongodump) was found, so the S3 keys of the backups are not "
            f"checked against the lifecycle prefix '{prefix}'",
            anchor,
            detail="no-dump",
        )
        return
    if (
        any(u.bucket is not None for u in uploads) and not any(u.bucket == entry.bucket for u in uploads)
    ) or f"s3://{entry.bucket}" not in " ".join(w for c in workload.containers for w in c.command):
        return  # nothing is uploaded to the documented bucket: BAK005 says so, this rule has nothing to add
    for dump in dumps:
        yield from _check_dump(ctx, entry, lc, rule, prefix, workload, dump, uploads, anchor)


def _check_dump(
    ctx: CheckContext,
    entry: BackupEntry,
    lc: LifecycleEntry,
    rule: LifecycleRule | None,
    prefix: str,
    workload: Workload,
    dump: _Dump,
    uploads: list[_Upload],
    anchor: Loc,
) -> Iterator[Finding]:
    where = word_loc(ctx, dump.source, dump.word) if dump.word is not None else anchor
    name = dump.path.shown() if dump.path is not None else "the dump"
    traced = _trace(dump, uploads, str(entry.bucket))
    if traced.key is None:
        verb = "is never uploaded" if traced.never else "cannot be traced"
        yield workload_finding(
            "BAK006",
            workload,
            f"{name} {verb} to s3://{entry.bucket}: {traced.problem}; the "
            f"lifecycle rule (prefix '{prefix}') never sees it",
            where,
            detail=f"upload:{name}",
        )
        return
    shown_key = f"s3://{entry.bucket}/{traced.key.shown()}"
    unknowns = ", ".join(p.text for p in traced.key.parts if isinstance(p, Unknown))
    # The command answers to the documented prefix (RET001 holds the file to it); the rule
    # in the file answers to the objects.  So a drifted rule is reported at the rule only.
    documented = lc.prefix if lc.prefix is not None else prefix
    under = starts_with(traced.key, documented)
    if under is not True:
        if traced.upload is not None and _leaves_at_destination(traced.upload.key, documented):
            where = word_loc(ctx, traced.upload.source, traced.upload.word)
        how, fate = (
            ("outside", "are never deleted")
            if under is False
            else (f"possibly outside (it depends on {unknowns})", "may never be deleted")
        )
        yield workload_finding(
            "BAK006",
            workload,
            f"{name} is uploaded as {shown_key}, {how} the prefix '{documented}' "
            f"that the lifecycle rule of {lc.file} expires: these backups {fate}",
            where,
            detail=f"key:{name}",
        )
    if rule is None or not isinstance(rule.prefix, str):
        return
    under_rule = starts_with(traced.key, rule.prefix)
    if under_rule is not True:
        how, fate = (
            ("does not cover", "they are never deleted")
            if under_rule is False
            else (f"may not cover (it depends on {unknowns})", "they may never be deleted")
        )
        yield Finding(
            "BAK006",
            f"lifecycle rule {rule.rule_id} expires prefix '{rule.prefix}', which {how} backup "
            f"{entry.name}'s objects ({shown_key}, {workload.subject}): {fate}, "
            "and the rule expires other objects",
            rule.prefix_loc,
            subject=f"{rule.path} rule {rule.rule_id}",
            detail=f"key:{entry.name}",
            related=(where,),
        )


def _leaves_at_destination(dest: Pattern, prefix: str) -> bool:
    """Whether the upload's destination key alone already leaves the prefix (then that is the line to fix)."""
    head = dest.head
    return bool(head) and not head.startswith(prefix) and not prefix.startswith(head)
