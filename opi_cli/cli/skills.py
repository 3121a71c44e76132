"""Agent Skills: folders with a ``SKILL.md`` whose name and description the model is told about.

Read from ``OPI_HOME/skills/<name>/SKILL.md`` (global), then ``.claude/skills/<name>/`` and
``.opi/skills/<name>/`` in the current folder (project; a project skill overrides a global
one of the same name). Only the name, description and path go into the system prompt
(progressive disclosure): the model reads the body with ``read`` when a task matches, and
``/skill:name [args]`` puts the body into the conversation at once.

The frontmatter follows the Agent Skills specification: ``name`` (1-64 of ``a-z0-9-``, no
leading, trailing or doubled ``-``, equal to the folder name) and ``description`` (at most
1024 characters) are required. As pi does, violations are warnings naming the file, and
only a skill without a description (or with unreadable frontmatter) is skipped.
``disable-model-invocation: true`` keeps a skill out of the system prompt (``/skill:name``
still works).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from opi_cli._util.records import record

__all__ = ["Skill", "discover_skills", "expand_skill"]

Scope = Literal["global", "project"]

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_MAX_NAME = 64
_MAX_DESCRIPTION = 1024


@record
class Skill:
    """One skill: ``path`` is its ``SKILL.md``, ``body`` the text after the frontmatter."""

    name: str
    description: str
    path: Path
    scope: Scope
    body: str
    model_invocable: bool = True

    @property
    def folder(self) -> Path:
        return self.path.parent


def _problems(name: str, folder: str, description: str) -> list[str]:
    out: list[str] = []
    if len(name) > _MAX_NAME:
        out.append(f"name is longer than {_MAX_NAME} characters")
    if not _NAME.match(name):
        out.append(f"name '{name}' must be lower-case letters, digits and single hyphens")
    if name != folder:
        out.append(f"name '{name}' differs from its folder '{folder}'")
    if len(description) > _MAX_DESCRIPTION:
        out.append(f"description is longer than {_MAX_DESCRIPTION} characters")
    return out


def _load(path: Path, scope: Scope, warnings: list[str]) -> Skill | None:
    from opi_cli._util.frontmatter import FrontmatterError, parse_frontmatter  # only when a skill exists

    folder = path.parent.name
    try:
        doc = parse_frontmatter(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        warnings.append(f"Skill {path}: cannot read it ({exc.strerror}); skipped.")
        return None
    except FrontmatterError as exc:
        warnings.append(f"Skill {path}: invalid frontmatter, {exc}; skipped (fix the file).")
        return None
    description = doc.text("description")
    if description is None:
        warnings.append(f"Skill {path}: no 'description' in its frontmatter; skipped (the model could not know when to use it).")
        return None
    name = doc.text("name")
    if name is None:
        warnings.append(f"Skill {path}: no 'name' in its frontmatter; using the folder name '{folder}'.")
        name = folder
    problems = _problems(name, folder, description)
    if re.search(r"[\s/]", name):
        name = folder  # it could not be typed as /skill:name
    if problems:
        warnings.append(f"Skill {path}: {'; '.join(problems)} (loaded as /skill:{name}).")
    return Skill(name, description, path, scope, doc.body, not doc.flag("disable-model-invocation"))


def _skill_files(root: Path) -> list[Path]:
    try:
        if not root.is_dir():
            return []
        return sorted(p / "SKILL.md" for p in root.iterdir() if (p / "SKILL.md").is_file())
    except OSError:
        return []


def discover_skills(cwd: Path, home: Path) -> tuple[dict[str, Skill], list[str]]:
    """The skills by name, and one warning per file with a problem."""
    warnings: list[str] = []
    found: dict[str, Skill] = {}
    sources: list[tuple[Path, Scope]] = [
        (home / "skills", "global"),
        (cwd / ".claude" / "skills", "project"),
        (cwd / ".opi" / "skills", "project"),
    ]
    for root, scope in sources:
        here: dict[str, Path] = {}
        for path in _skill_files(root):
            skill = _load(path, scope, warnings)
            if skill is None:
                continue
            if skill.name in here:
                warnings.append(f"Skill {path}: '{skill.name}' is also {here[skill.name]}; the first one is used.")
                continue
            here[skill.name] = path
            found[skill.name] = skill
    return found, warnings


def expand_skill(skill: Skill, args: str) -> str:
    """What ``/skill:name args`` sends: the skill's body in a ``<skill>`` block, then the arguments."""
    block = (
        f'<skill name="{skill.name}" location="{skill.path}">\n'
        f"References are relative to {skill.folder}.\n\n"
        f"{skill.body.strip()}\n</skill>"
    )
    return f"{block}\n\n{args.strip()}" if args.strip() else block
