"""Dockerfiles into instructions, with BuildKit's rules and its error messages.

Upstream: ``moby/buildkit`` ``frontend/dockerfile/parser/parser.go`` (parser directives, comments,
line continuations, heredocs), ``parser/line_parsers.go`` (how each instruction's arguments are
split: JSON or shell form, ``key=value`` pairs, builder flags) and ``instructions/parse.go``
(the checks and their messages: ``COPY requires at least two arguments, but only one was
provided. Destination could not be determined``, ``FROM requires either one or three
arguments``, ``unknown instruction: FORM (did you mean FROM?)``...). The reference:
https://docs.docker.com/reference/dockerfile/ .

Why not a package: ``dockerfile-parse`` (PyPI, the one maintained parser) splits lines but drops an
instruction whose continuation reaches the end of the file, reads a heredoc's body as instructions
and checks nothing, so the lab parses the small grammar itself; ``tests/test_dockerfile.py`` holds
it to the documented rules and to a table of malformed files.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from labkit.errors import DockerfileError

__all__ = ["Instruction", "parse", "INSTRUCTIONS", "substitute"]

#: Every instruction BuildKit knows (``command.Commands``).
INSTRUCTIONS = (
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)
#: The builder flags each instruction accepts (``instructions/parse.go``; RUN's from ``runmount``...).
FLAGS = {
    "ADD": {"chown", "chmod", "link", "keep-git-dir", "checksum", "exclude"},
    "COPY": {"chown", "from", "chmod", "link", "parents", "exclude"},
    "FROM": {"platform"},
    "RUN": {"mount", "network", "security"},
    "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([a-zA-Z_][a-zA-Z0-9_]*)\2")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_VAR = re.compile(r"\$(?:\{([^}]*)(\})?|([a-zA-Z_][a-zA-Z0-9_]*))")


@dataclass
class Instruction:
    """One instruction: where it is (1-based lines), its name, flags and arguments.

    ``args`` are the split arguments (``json`` tells the exec form of RUN/CMD/ENTRYPOINT/SHELL);
    ``pairs`` the ``key=value`` pairs of ENV, LABEL and ARG (ARG's value None when not given);
    ``heredocs`` maps a heredoc's name to its body.
    """

    line: int
    end_line: int
    name: str
    original: str
    flags: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    json: bool = False
    pairs: list[tuple[str, str | None]] = field(default_factory=list)
    heredocs: dict[str, str] = field(default_factory=dict)


def _fail(line: int, message: str, hint: str = "") -> DockerfileError:
    return DockerfileError(line, message, hint)


def _logical_lines(text: str) -> tuple[list[tuple[int, int, str, dict[str, str]]], str]:
    """(start line, end line, joined text, heredoc bodies) per instruction, and the escape token."""
    lines = text.splitlines()
    escape = "\\"
    i = 0
    seen: set[str] = set()
    while i < len(lines):  # parser directives: only at the very top, each at most once
        m = _DIRECTIVE.match(lines[i])
        if not m:
            break
        name, value = m.group(1).lower(), m.group(2)
        if name not in ("syntax", "escape", "check"):
            break  # an unknown directive is a comment, and ends the directives
        if name in seen:
            raise _fail(i + 1, f"only one {name} parser directive can be used")
        seen.add(name)
        if name == "escape":
            if value not in ("\\", "`"):
                raise _fail(i + 1, f"invalid escape token '{value}' does not match ` or \\")
            escape = value
        i += 1
    out = []
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts = []
        text_line = raw.lstrip()
        while True:
            body = text_line.rstrip()
            if body.endswith(escape):
                parts.append(body[: -len(escape)])
                i += 1
                # comment lines and empty lines inside a continuation are skipped
                while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                    i += 1
                if i >= len(lines):
                    break  # a continuation at the end of the file ends the instruction
                text_line = lines[i]
                continue
            parts.append(body)
            break
        joined = "".join(parts).strip()
        end = min(i, len(lines) - 1)
        heredocs: dict[str, str] = {}
        for m in (
            _HEREDOC.finditer(joined) if joined.split(None, 1)[0].upper() in ("RUN", "COPY", "ADD") else ()
        ):
            chomp, name = m.group(1) == "-", m.group(3)
            body = []
            i += 1
            while i < len(lines) and (lines[i].lstrip("\t") if chomp else lines[i]) != name:
                body.append(lines[i].lstrip("\t") if chomp else lines[i])
                i += 1
            if i >= len(lines):
                raise _fail(start + 1, f"unterminated heredoc {name}: no line '{name}' ends it")
            heredocs[name] = "\n".join(body) + "\n"
            end = i
        out.append((start + 1, end + 1, joined, heredocs))
        i += 1
    return out, escape


def _split_flags(rest: str, name: str, line: int) -> tuple[dict[str, str], str]:
    """``extractBuilderFlags``: leading ``--name=value`` (or ``--name``) words."""
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        key, eq, value = word[2:].partition("=")
        allowed = FLAGS.get(name, set())
        if key not in allowed:
            hint = (
                f"{name} accepts " + ", ".join(f"--{f}" for f in sorted(allowed))
                if allowed
                else f"{name} takes no flags"
            )
            raise _fail(line, f"unknown flag: {key}", hint)
        if key in flags:
            raise _fail(line, f"duplicate flag specified: {key}")
        flags[key] = value if eq else "true"
        rest = after.lstrip()
    return flags, rest


def _words(rest: str, line: int) -> list[str]:
    """Whitespace-separated words, quotes and backslash-escaped characters kept together
    (``parseStringsWhitespaceDelimited`` / the word splitting of ``parseNameVal``)."""
    out, cur, quote, i = [], "", "", 0
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and quote != "'" and i + 1 < len(rest):
            cur += rest[i:i + 2]
            i += 2
            continue
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch.isspace():
            if cur:
                out.append(cur)
                cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        out.append(cur)
    return out


def _unquote(word: str) -> str:
    """A word's value: surrounding quotes removed; outside single quotes ``\\x`` is ``x``."""
    if len(word) >= 2 and word[0] == word[-1] == "'":
        return word[1:-1]
    if len(word) >= 2 and word[0] == word[-1] == '"':
        word = word[1:-1]
    return re.sub(r"\\(.)", r"\1", word)


def _json_list(rest: str) -> list[str] | None:
    """``parseJSON``: a JSON array of strings, else None (the shell form)."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _name_values(rest: str, name: str, line: int) -> list[tuple[str, str | None]]:
    """``parseNameVal`` (ENV, LABEL) and ``parseNameOrNameVal`` (ARG)."""
    words = _words(rest, line)
    if not words:
        raise _fail(line, f"{name} requires at least one argument")
    if name == "ARG":
        pairs = []
        for w in words:
            key, eq, value = w.partition("=")
            if eq and not key:
                raise _fail(line, "ARG names can not be blank")
            pairs.append((key, _unquote(value) if eq else None))
        return pairs
    if "=" not in words[0]:  # the legacy form: ENV key value...
        if len(words) < 2:
            raise _fail(line, f"{name} must have two arguments", f"write {name} {words[0]}=<value>")
        return [(words[0], " ".join(_unquote(w) for w in words[1:]))]
    pairs = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq:
            raise _fail(line, f'Syntax error - can\'t find = in "{w}". Must be of the form: name=value')
        if not key:
            raise _fail(line, f"{name} names can not be blank")
        pairs.append((_unquote(key), _unquote(value)))
    return pairs


def substitute(text: str, env: dict[str, str], line: int) -> str:
    """Build-time variable substitution (``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}``,
    ``${VAR:?message}``), as ``shell/lex.go`` does for FROM, COPY, ENV, WORKDIR...; ``\\$`` escapes."""

    def one(m: re.Match[str]) -> str:
        if m.group(3) is not None:
            return env.get(m.group(3), "")
        inner, closed = m.group(1), m.group(2)
        if closed is None:
            raise _fail(line, f"failed to process \"{m.group(0)}\": missing '}}'")
        for op in (":-", ":+", ":?", "-", "+", "?"):
            if op in inner:
                key, value = inner.split(op, 1)
                got = env.get(key)
                empty = got is None or (op.startswith(":") and got == "")
                if op.endswith("-"):
                    return value if empty else got
                if op.endswith("+"):
                    return "" if empty else value
                if empty:
                    raise _fail(
                        line,
                        f'failed to process "{m.group(0)}": {key}: {value or "is not allowed to be unset"}',
                    )
                return got
        return env.get(inner, "")

    out, i = [], 0
    while i < len(text):
        if text.startswith("\\$", i):
            out.append("$")
            i += 2
            continue
        m = _VAR.match(text, i)
        if m:
            out.append(one(m))
            i = m.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, checked as BuildKit checks them before building."""
    if not isinstance(text, str):
        raise DockerfileError(0, f"a Dockerfile is text, not {type(text).__name__}")
    logical, _ = _logical_lines(text)
    if not logical:
        raise DockerfileError(0, "file with no instructions", "a Dockerfile starts with FROM <image>")
    out = []
    stage_seen = False
    for start, end, joined, heredocs in logical:
        word, _, rest = joined.partition(" ")
        name = word.upper()
        rest = rest.strip()
        if name not in INSTRUCTIONS:
            near = difflib.get_close_matches(name, INSTRUCTIONS, n=1, cutoff=0.6)
            suffix = f" (did you mean {near[0]}?)" if near else ""
            raise _fail(
                start, f"unknown instruction: {word}{suffix}", "instructions are " + ", ".join(INSTRUCTIONS)
            )
        ins = Instruction(start, end, name, joined, heredocs=heredocs)
        ins.flags, rest = (
            _split_flags(rest, name, start) if name in FLAGS or rest.startswith("--") else ({}, rest)
        )
        _check(ins, rest)
        if name == "FROM":
            stage_seen = True
        elif name != "ARG" and not stage_seen:
            raise _fail(
                start,
                "no build stage in current context",
                f"{name} comes before the first FROM; only ARG may",
            )
        out.append(ins)
    return out


def _check(ins: Instruction, rest: str) -> None:
    """Split ``rest`` into the instruction's arguments, with ``instructions/parse.go``'s checks."""
    name, line = ins.name, ins.line
    if name in ("ENV", "LABEL", "ARG"):
        ins.pairs = _name_values(rest, name, line)
        return
    if name in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        form = _json_list(rest)
        ins.json = form is not None
        ins.args = form if form is not None else ([rest] if rest else [])
        if name == "SHELL" and not ins.json:
            raise _fail(
                line, "SHELL requires the arguments to be in JSON form", 'write SHELL ["/bin/bash", "-c"]'
            )
        if not ins.args and name in ("RUN", "SHELL"):
            raise _fail(line, f"{name} requires at least one argument")
        return
    if name in ("COPY", "ADD"):
        form = _json_list(rest)
        ins.json = form is not None
        ins.args = form if form is not None else [_unquote(w) for w in _words(rest, line)]
        if len(ins.args) < 2:
            raise _fail(
                line,
                f"{name} requires at least two arguments, but only one was provided. Destination "
                "could not be determined",
                f"write {name} <source>... <destination>",
            )
        return
    words = _words(rest, line)
    ins.args = [_unquote(w) for w in words]
    if name == "FROM":
        if len(words) == 3 and words[1].lower() == "as":
            stage = words[2].lower()
            if not _STAGE_NAME.match(stage):
                raise _fail(
                    line,
                    f'invalid name for build stage: "{words[2]}", name can\'t start with a number or '
                    "contain symbols",
                )
        elif len(words) != 1:
            raise _fail(line, "FROM requires either one or three arguments", "write FROM <image> [AS <name>]")
    elif name in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"):
        if len(words) != 1:
            raise _fail(line, f"{name} requires exactly one argument")
    elif name in ("EXPOSE", "VOLUME", "ONBUILD", "HEALTHCHECK"):
        if not words:
            raise _fail(line, f"{name} requires at least one argument")
        if name == "EXPOSE":
            for w in ins.args:
                port, _, proto = w.partition("/")
                lo, _, hi = port.partition("-")
                if not lo.isdigit() or (hi and not hi.isdigit()) or proto not in ("", "tcp", "udp", "sctp"):
                    raise _fail(line, f"invalid containerPort: {w}", "EXPOSE 80 or EXPOSE 53/udp")
        if name == "ONBUILD":
            trigger = ins.args[0].upper()
            if trigger == "ONBUILD":
                raise _fail(line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            if trigger in ("MAINTAINER", "FROM"):
                raise _fail(line, f"{trigger} isn't allowed as an ONBUILD trigger")
        if name == "HEALTHCHECK":
            kind = ins.args[0].upper()
            if kind == "NONE" and len(ins.args) > 1:
                raise _fail(line, "HEALTHCHECK NONE takes no arguments")
            if kind not in ("NONE", "CMD"):
                raise _fail(line, f'Unknown type "{ins.args[0]}" in HEALTHCHECK (try CMD)')
            if kind == "CMD" and len(ins.args) == 1:
                raise _fail(line, "Missing command after HEALTHCHECK CMD")
