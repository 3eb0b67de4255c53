"""Read (never run) the POSIX shell of a container command: words, pipelines, redirections.

Backup jobs are shell one-liners (``mysqldump ... | gzip > /backup/x.sql.gz``); to know
which file a dump lands in and which key ``aws s3 cp`` gives it, the script is split the
way ``sh`` would (POSIX Shell Command Language §2.3 token recognition, §2.6 expansions),
for the subset such scripts use: quotes, backslashes, line continuations, comments,
``$NAME``/``${NAME}``/``$(...)``/backticks, ``|``, ``&&``, ``||``, ``;``, ``&``,
newlines, redirections, and ``NAME=value`` assignments.  Nothing is executed: an
expansion whose value is not known offline (``$(date +%F)``, an unknown variable)
becomes an ``Unknown`` part of the word, and the checks reason about every value it
could take.  What this reader cannot follow (here-documents, unbalanced quotes) is
returned as a problem, so a check says "not traced" instead of guessing.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..located import Loc

if TYPE_CHECKING:
    from .base import CheckContext


@dataclass(frozen=True, slots=True)
class Unknown:
    """An expansion whose value is not known offline; ``text`` is how it is written."""

    text: str


Part = str | Unknown


@dataclass(frozen=True, slots=True)
class Word:
    parts: tuple[Part, ...]
    raw: str  # as written in the script
    offset: int  # where it starts in the script

    @property
    def literal(self) -> str | None:
        """The word's value when nothing in it is unknown."""
        return "".join(p for p in self.parts if isinstance(p, str)) if self.known else None

    @property
    def known(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def shown(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def pattern(self) -> Pattern:
        return Pattern.of(self.parts)


@dataclass(frozen=True, slots=True)
class Redirect:
    op: str  # > >> >| < &> &>> <<<  (fd duplications like 2>&1 are dropped)
    fd: int  # 1 for stdout
    target: Word


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...]

    def argv(self) -> tuple[Word, ...]:
        """The words without leading reserved words, assignments and transparent wrappers."""
        words = list(self.words)
        while words and (words[0].literal in _PREFIX_WORDS or _is_assignment(words[0])):
            words.pop(0)
        return tuple(words)

    @property
    def name(self) -> str:
        argv = self.argv()
        return posixpath.basename(argv[0].literal or "") if argv else ""

    def stdout(self) -> Redirect | None:
        return next((r for r in reversed(self.redirects) if r.fd == 1 and r.op in (">", ">>", ">|", "&>", "&>>")), None)


@dataclass(frozen=True, slots=True)
class Pipeline:
    commands: tuple[Command, ...]
    then: str  # the operator after it: "&&", "||", ";", "&", "\n" or "" at the end


@dataclass(frozen=True, slots=True)
class Script:
    pipelines: tuple[Pipeline, ...]
    problems: tuple[str, ...]  # constructs this reader does not follow; non-empty: do not trust it

    def commands(self) -> Iterator[Command]:
        for p in self.pipelines:
            yield from p.commands


_PREFIX_WORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "do",
        "while",
        "until",
        "!",
        "time",
        "exec",
        "{",
        "(",
        "nice",
        "nohup",
        "command",
        "export",
    }
)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL = "@*#?-$!0123456789"
_OPERATORS = ("&&", "||", ";;", "|&", "|", ";", "&", "(", ")")
_REDIRECTION = re.compile(r"([0-9]*)(&>>|&>|>>|>\||>&|<&|<<<|>|<)")


def _is_assignment(word: Word) -> bool:
    return bool(word.parts) and isinstance(word.parts[0], str) and bool(_ASSIGNMENT.match(word.parts[0]))


@dataclass(frozen=True, slots=True)
class Pattern:
    """A string some parts of which are unknown (any text).  ``head`` is the known text
    before the first unknown part; the string is fully known when ``parts`` has one item."""

    parts: tuple[Part, ...]

    @staticmethod
    def of(parts: tuple[Part, ...] | list[Part]) -> Pattern:
        merged: list[Part] = []
        for p in parts:
            if isinstance(p, str):
                if not p:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] = merged[-1] + p
                    continue
            elif merged and isinstance(merged[-1], Unknown):
                merged[-1] = Unknown(merged[-1].text + p.text)
                continue
            merged.append(p)
        return Pattern(tuple(merged))

    @property
    def head(self) -> str:
        return self.parts[0] if self.parts and isinstance(self.parts[0], str) else ""

    @property
    def known(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def shown(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def __add__(self, other: Pattern) -> Pattern:
        return Pattern.of(self.parts + other.parts)

    def without_head(self, n: int) -> Pattern:
        """The pattern minus its first ``n`` known characters (``n <= len(head)``)."""
        return Pattern.of((self.head[n:],) + self.parts[1:]) if self.head else self

    def tokens(self) -> tuple[str | None, ...]:
        """Characters, with None for each unknown part (any string, empty included)."""
        out: list[str | None] = []
        for p in self.parts:
            out.extend(p) if isinstance(p, str) else out.append(None)
        return tuple(out)


@dataclass
class _Lexer:
    text: str
    env: dict[str, Pattern]
    problems: list[str] = field(default_factory=list)
    i: int = 0

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def tokens(self) -> Iterator[tuple[str, Word | str]]:
        """("word", Word) | ("op", operator) | ("redir", op) | ("fd", digits)."""
        while self.i < len(self.text):
            ch = self.text[self.i]
            if self.text.startswith("\\\n", self.i):
                self.i += 2
            elif ch in " \t\r":
                self.i += 1
            elif ch == "\n":
                self.i += 1
                yield "op", "\n"
            elif ch == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            elif self.text.startswith("<<", self.i) and not self.text.startswith("<<<", self.i):
                self.problems.append("a here-document (<<) is not followed")
                self.i = len(self.text)
            elif (op := self._redirection()) is not None:
                yield "redir", op
            elif (op := next((o for o in _OPERATORS if self.text.startswith(o, self.i)), None)) is not None:
                self.i += len(op)
                yield "op", op
            else:
                yield "word", self._word()

    def _redirection(self) -> str | None:
        m = _REDIRECTION.match(self.text, self.i)
        if not m:
            return None
        self.i = m.end()
        return (m.group(1) or "") + ":" + m.group(2)

    def _word(self) -> Word:
        start, parts = self.i, []
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in " \t\r\n;&|()<>" and not self.text.startswith("\\\n", self.i):
                break
            if ch == "\\":
                if self.text.startswith("\\\n", self.i):
                    self.i += 2
                    continue
                parts.append(self.text[self.i + 1 : self.i + 2])
                self.i += 2
            elif ch == "'":
                end = self.text.find("'", self.i + 1)
                if end < 0:
                    self.problems.append("unbalanced single quote")
                    end = len(self.text)
                parts.append(self.text[self.i + 1 : end])
                self.i = end + 1
            elif ch == '"':
                parts += self._double_quoted()
            elif ch == "$":
                parts += self._dollar()
            elif ch == "`":
                end = self.text.find("`", self.i + 1)
                if end < 0:
                    self.problems.append("unbalanced backquote")
                    end = len(self.text)
                parts.append(Unknown(self.text[self.i : end + 1]))
                self.i = end + 1
            else:
                parts.append(ch)
                self.i += 1
        return Word(Pattern.of(parts).parts, self.text[start : self.i], start)

    def _double_quoted(self) -> list[Part]:
        self.i += 1
        parts: list[Part] = []
        while self.i < len(self.text) and self.text[self.i] != '"':
            ch = self.text[self.i]
            if ch == "\\" and self.peek(2)[1:] in ("$", "`", '"', "\\", "\n"):
                if self.peek(2)[1:] != "\n":
                    parts.append(self.text[self.i + 1])
                self.i += 2
            elif ch == "$":
                parts += self._dollar()
            elif ch == "`":
                end = self.text.find("`", self.i + 1)
                end = len(self.text) if end < 0 else end
                parts.append(Unknown(self.text[self.i : end + 1]))
                self.i = end + 1
            else:
                parts.append(ch)
                self.i += 1
        if self.i >= len(self.text):
            self.problems.append("unbalanced double quote")
        self.i += 1
        return parts

    def _balanced(self, open_: str, close: str) -> str:
        """The text from self.i (at ``open_``) to its matching ``close``, quotes skipped."""
        start, depth = self.i, 0
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "\\":
                self.i += 2
                continue
            if ch == "'":
                end = self.text.find("'", self.i + 1)
                self.i = (len(self.text) if end < 0 else end) + 1
                continue
            if ch == open_:
                depth += 1
            elif ch == close:
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return self.text[start : self.i]
            self.i += 1
        self.problems.append(f"unbalanced {open_}")
        return self.text[start:]

    def _dollar(self) -> list[Part]:
        nxt = self.peek(2)[1:]
        if nxt == "(":
            self.i += 1
            return [Unknown("$" + self._balanced("(", ")"))]
        if nxt == "{":
            self.i += 1
            inner = self._balanced("{", "}")
            name = inner[1:-1]
            return self._variable(name, "$" + inner) if _NAME.fullmatch(name) else [Unknown("$" + inner)]
        m = _NAME.match(self.text, self.i + 1)
        if m:
            self.i = m.end()
            return self._variable(m.group(0), "$" + m.group(0))
        if nxt and nxt in _SPECIAL:
            self.i += 2
            return [Unknown("$" + nxt)]
        self.i += 1
        return ["$"]

    def _variable(self, name: str, written: str) -> list[Part]:
        value = self.env.get(name)
        if value is None:
            return [Unknown(written)]
        return [p if isinstance(p, str) else Unknown(p.text) for p in value.parts]


def parse_script(text: str, env: Mapping[str, Pattern] | None = None) -> Script:
    """Split a script into pipelines.  ``env`` holds known variables (the container's
    literal, non-secret env); ``NAME=value`` commands in the script extend it in order."""
    lexer = _Lexer(text, dict(env or {}))
    pipelines: list[Pipeline] = []
    commands: list[Command] = []
    words: list[Word] = []
    redirects: list[Redirect] = []
    pending: str | None = None

    def end_command() -> None:
        nonlocal words, redirects
        if words or redirects:
            command = Command(tuple(words), tuple(redirects))
            commands.append(command)
            _assign(command, lexer.env)
        words, redirects = [], []

    tokens = lexer.tokens()
    for kind, value in tokens:
        if pending is not None:
            if kind == "word":
                fd_text, op = pending.split(":")
                fd = int(fd_text) if fd_text else (0 if op.startswith("<") else 1)
                if op not in (">&", "<&"):
                    redirects.append(Redirect(op, 1 if op.startswith("&") else fd, value))
            pending = None
            continue
        if kind == "word":
            words.append(value)
        elif kind == "redir":
            pending = value
        elif value in ("|", "|&"):
            end_command()
        else:
            end_command()
            if commands:
                pipelines.append(Pipeline(tuple(commands), value))
            commands = []
    end_command()
    if commands:
        pipelines.append(Pipeline(tuple(commands), ""))
    return Script(tuple(pipelines), tuple(lexer.problems))


def _assign(command: Command, env: dict[str, Pattern]) -> None:
    """``NAME=value`` (alone, or after ``export``) sets a variable for what follows."""
    words = list(command.words)
    if words and words[0].literal == "export":
        words.pop(0)
    if not words or not all(_is_assignment(w) for w in words):
        return
    for w in words:
        first = w.parts[0]
        assert isinstance(first, str)
        name, _, rest = first.partition("=")
        env[name] = Pattern.of((rest,) + w.parts[1:])


def source_lines(ctx: CheckContext, path: str) -> list[str]:
    """The lines of a scanned file (read once per scan), for placing words inside a
    multi-line string; empty when the file cannot be read again."""
    cache = ctx._memo.setdefault("source-lines", {})
    if path not in cache:
        disk = ctx.inputs.sources.get(path)
        try:
            cache[path] = disk.read_text(encoding="utf-8-sig", errors="replace").splitlines() if disk else []
        except OSError:
            cache[path] = []
    return cache[path]


def locate(ctx: CheckContext, loc: Loc, text: str, word: Word) -> Loc:
    """Where ``word`` of the script ``text`` is written, the string starting at ``loc``.
    A literal block (``|``) keeps lines, so value line k is file line loc+1+k; other
    styles are searched line by line over the string's extent."""
    lines = source_lines(ctx, loc.path)
    needle = word.raw.split("\n")[0].split("\\\n")[0]
    if not lines or not needle or loc.line > len(lines):
        return loc
    if lines[loc.line - 1][loc.col - 1 :].startswith("|"):
        n = loc.line + 1 + text.count("\n", 0, word.offset)
        if n <= len(lines) and needle in lines[n - 1]:
            return Loc(loc.path, n, lines[n - 1].index(needle) + 1)
    for n in range(loc.line, min(len(lines), loc.line + text.count("\n") + 2) + 1):
        if needle in lines[n - 1]:
            return Loc(loc.path, n, lines[n - 1].index(needle) + 1)
    return loc
