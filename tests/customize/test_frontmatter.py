"""The frontmatter parser on the shapes real SKILL.md and command files have, and its refusals."""

from __future__ import annotations

import pytest

from opi_cli._util.frontmatter import FrontmatterError, parse_frontmatter

SKILL = """---
name: checkpointing
description: |
  Save session context to agent configuration files.
  Supports three modes.

  Second paragraph.
metadata:
  short-description: Checkpoint session context
  author: "someone # not a comment"
license: Apache-2.0  # a comment
allowed-tools: Bash(git add:*), Bash(git status:*)
disable-model-invocation: true
---
# Checkpointing

Body text.
"""


def test_a_real_skill_shape() -> None:
    doc = parse_frontmatter(SKILL)
    assert doc.has_frontmatter
    assert doc.meta["name"] == "checkpointing"
    assert doc.meta["description"] == (
        "Save session context to agent configuration files.\nSupports three modes.\n\nSecond paragraph.\n"
    )
    assert doc.meta["metadata"] == {"short-description": "Checkpoint session context", "author": "someone # not a comment"}
    assert doc.meta["license"] == "Apache-2.0"
    assert doc.meta["allowed-tools"] == "Bash(git add:*), Bash(git status:*)"
    assert doc.flag("disable-model-invocation")
    assert doc.body == "# Checkpointing\n\nBody text.\n"


def test_block_scalars_fold_and_chomp() -> None:
    text = "---\na: |-\n  one\n  two\nb: >\n  one\n  two\n\n  three\nc: >-\n  x\n    indented\n  y\n---\n"
    meta = parse_frontmatter(text).meta
    assert meta["a"] == "one\ntwo"
    assert meta["b"] == "one two\nthree\n"
    assert meta["c"] == "x\n  indented\ny"


def test_quoted_plain_continued_lists_and_nulls() -> None:
    text = (
        "---\n"
        'd: "say \\"hi\\"\\n"\n'
        "s: 'it''s'\n"
        "p: Use when: the user asks  # colon kept, comment dropped\n"
        "cont: first\n  second\n"
        "flow: [a, \"b, c\", d]\n"
        "block:\n  - one\n  - 'two'\n"
        "empty:\n"
        "tilde: ~\n"
        "---\nbody"
    )
    meta = parse_frontmatter(text).meta
    assert meta["d"] == 'say "hi"\n'
    assert meta["s"] == "it's"
    assert meta["p"] == "Use when: the user asks"
    assert meta["cont"] == "first second"
    assert meta["flow"] == ["a", "b, c", "d"]
    assert meta["block"] == ["one", "two"]
    assert meta["empty"] is None and meta["tilde"] is None


def test_raw_keys_keep_claude_argument_hints() -> None:
    doc = parse_frontmatter("---\nargument-hint: [pr-number] [priority]\n---\n", raw_keys=("argument-hint",))
    assert doc.text("argument-hint") == "[pr-number] [priority]"


def test_no_frontmatter_is_all_body() -> None:
    doc = parse_frontmatter("# Title\n---\nnot frontmatter\n")
    assert not doc.has_frontmatter and doc.meta == {} and doc.body.startswith("# Title")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("---\nname: x\n", 1, "no closing"),
        ("---\ndescription: | Use when needed.\n---\n", 2, "following, indented lines"),
        ("---\na: b\na: c\n---\n", 3, "duplicate key"),
        ("---\n  a: b\n---\n", 2, "unexpected indentation"),
        ("---\na: [x] [y]\n---\n", 2, "not a valid [a, b] list"),
        ("---\na: &anchor y\n---\n", 2, "unsupported YAML"),
        ('---\na: "open\n---\n', 2, "not closed"),
        ("---\nm:\n  a: b\n    c: d\n---\n", 4, "nesting deeper"),
        ("---\njust text\n---\n", 2, "expected 'key: value'"),
        ("---\nl:\n  - a: b\n---\n", 3, "list items"),
    ],
)
def test_what_is_refused_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(FrontmatterError) as info:
        parse_frontmatter(text)
    assert info.value.line == line
    assert words in str(info.value)
