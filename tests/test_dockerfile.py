"""The Dockerfile grammar as BuildKit reads it (directives, comments, continuations, heredocs, the
argument forms), and a table of malformed files, each refused on the right line with BuildKit's words."""

from __future__ import annotations

import pytest

import labkit
from labkit.images.dockerfile import parse, substitute


def test_directives_comments_and_continuations_are_read_as_buildkit_does():
    text = (
        "# syntax=docker/dockerfile:1\n# escape=`\nFROM mcr.microsoft.com/windows/servercore\n"
        "RUN dir c:\\ `\n    # a comment inside the continuation\n    && echo done\n"
    )
    ins = parse(text)
    assert [i.name for i in ins] == ["FROM", "RUN"]
    assert ins[1].line == 4 and ins[1].end_line == 6
    assert ins[1].args == ["dir c:\\     && echo done"]  # the backslash is literal with escape=`


def test_a_continuation_at_the_end_of_the_file_ends_the_instruction():
    ins = parse("FROM alpine\nRUN echo hi \\\n")
    assert ins[-1].name == "RUN" and ins[-1].args == ["echo hi"]


def test_a_directive_after_an_instruction_is_a_comment():
    ins = parse("FROM alpine\n# escape=`\nRUN echo a \\\n  b\n")
    assert ins[1].args == ["echo a   b"]


def test_exec_and_shell_forms_flags_pairs_and_heredocs():
    ins = parse(
        'FROM python:3.12-slim AS app\nENV A=1 B="two words" C=x\\ y\nENV LEGACY value with spaces\n'
        "ARG V\nARG W=2\nCOPY --chown=1000:1000 --chmod=644 a b /app/\n"
        'CMD ["python", "-m", "app"]\nENTRYPOINT python app.py\n'
        "RUN <<EOF\napt-get update\napt-get install -y curl\nEOF\nEXPOSE 80 53/udp 8000-8010\n"
    )
    env, legacy, arg_v, arg_w, copy, cmd, entry, run, expose = ins[1:]
    assert env.pairs == [("A", "1"), ("B", "two words"), ("C", "x y")]
    assert legacy.pairs == [("LEGACY", "value with spaces")]
    assert arg_v.pairs == [("V", None)] and arg_w.pairs == [("W", "2")]
    assert copy.flags == {"chown": "1000:1000", "chmod": "644"} and copy.args == ["a", "b", "/app/"]
    assert cmd.json and cmd.args == ["python", "-m", "app"]
    assert not entry.json and entry.args == ["python app.py"]
    assert run.heredocs == {"EOF": "apt-get update\napt-get install -y curl\n"} and run.end_line == 12
    assert expose.args == ["80", "53/udp", "8000-8010"]


def test_build_time_substitution_follows_the_shell_rules():
    env = {"A": "x", "EMPTY": ""}
    assert (
        substitute("$A ${A} ${B:-dflt} ${EMPTY:-e} ${EMPTY-e} ${A:+alt} \\$A", env, 1) == "x x dflt e  alt $A"
    )
    with pytest.raises(labkit.DockerfileError, match="B: needed"):
        substitute("${B:?needed}", env, 3)


MALFORMED = [
    # (Dockerfile, line, message fragment)
    ("", 0, "file with no instructions"),
    ("# only a comment\n\n", 0, "file with no instructions"),
    ("FORM alpine\n", 1, "unknown instruction: FORM (did you mean FROM?)"),
    ("FROM alpine\nCOPPY a b\n", 2, "unknown instruction: COPPY (did you mean COPY?)"),
    ("RUN echo hi\nFROM alpine\n", 1, "no build stage in current context"),
    ("FROM\n", 1, "FROM requires either one or three arguments"),
    ("FROM alpine AS\n", 1, "FROM requires either one or three arguments"),
    ("FROM alpine AS 1st\n", 1, 'invalid name for build stage: "1st"'),
    (
        "FROM alpine\n\nCOPY index.html\n",
        3,
        "COPY requires at least two arguments, but only one was provided",
    ),
    ("FROM alpine\nADD\n", 2, "ADD requires at least two arguments"),
    ("FROM alpine\nCOPY --chwon=1 a b\n", 2, "unknown flag: chwon"),
    ("FROM alpine\nCOPY --from=x --from=y a b\n", 2, "duplicate flag specified: from"),
    ("FROM alpine\nENV\n", 2, "ENV requires at least one argument"),
    ("FROM alpine\nENV ONLYNAME\n", 2, "ENV must have two arguments"),
    ("FROM alpine\nENV A=1 B\n", 2, 'Syntax error - can\'t find = in "B"'),
    ("FROM alpine\nENV =1\n", 2, "ENV names can not be blank"),
    ("FROM alpine\nLABEL\n", 2, "LABEL requires at least one argument"),
    ("FROM alpine\nARG =x\n", 2, "ARG names can not be blank"),
    ("FROM alpine\nWORKDIR /a /b\n", 2, "WORKDIR requires exactly one argument"),
    ("FROM alpine\nUSER\n", 2, "USER requires exactly one argument"),
    ("FROM alpine\nEXPOSE http\n", 2, "invalid containerPort: http"),
    ("FROM alpine\nSHELL /bin/bash -c\n", 2, "SHELL requires the arguments to be in JSON form"),
    ("FROM alpine\nRUN\n", 2, "RUN requires at least one argument"),
    ("FROM alpine\nONBUILD FROM x\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
    ("FROM alpine\nHEALTHCHECK CURL localhost\n", 2, 'Unknown type "CURL" in HEALTHCHECK (try CMD)'),
    ("FROM alpine\nRUN <<EOF\necho never closed\n", 2, "unterminated heredoc EOF"),
    ("# escape=x\nFROM alpine\n", 1, "invalid escape token 'x' does not match ` or \\"),
    ("# escape=`\n# escape=\\\nFROM alpine\n", 2, "only one escape parser directive can be used"),
    ("FROM alpine\nWORKDIR ${DIR\n", 0, ""),  # parse is fine; the build fails (below)
]


@pytest.mark.parametrize(
    "text,line,fragment",
    [m for m in MALFORMED if m[2]],
    ids=[m[2][:40] or "empty" for m in MALFORMED if m[2]],
)
def test_a_malformed_dockerfile_is_refused_on_its_line(text, line, fragment):
    with pytest.raises(labkit.DockerfileError) as e:
        parse(text)
    assert e.value.line == line
    assert fragment in e.value.message
    assert fragment in str(e.value)


BUILD_ERRORS = [
    ("FROM alpine\nWORKDIR ${DIR\n", 2, "missing '}'"),
    ("FROM alpine\nCOPY missing.txt /\n", 2, '"/missing.txt": not found'),
    ("FROM alpine AS a\nFROM alpine AS a\n", 2, 'duplicate stage name "a"'),
    ("FROM alpine\nCOPY --from=builder /out /out\n", 2, "no build stage named builder"),
    ("FROM alpine AS a\nCOPY --from=b /x /x\nFROM a AS b\n", 2, "circular dependency detected on stage: b"),
    ("FROM Alpine\n", 1, "must be lowercase"),
]


@pytest.mark.parametrize("text,line,fragment", BUILD_ERRORS, ids=[b[2][:40] for b in BUILD_ERRORS])
def test_a_dockerfile_that_cannot_be_built_says_where(text, line, fragment):
    with pytest.raises(labkit.DockerfileError) as e:
        labkit.images.build(text, {"index.html": "x"})
    assert e.value.line == line and fragment in e.value.message


def test_the_malformed_table_is_at_least_twenty_files():
    assert len([m for m in MALFORMED if m[2]]) + len(BUILD_ERRORS) >= 20
