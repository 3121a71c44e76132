"""``opi extensions``: which Python extensions load here, from where, and what each registered."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from opi_cli.cli.extension_sources import entry_point_sources, file_sources
from opi_cli.cli.project_trust import TRUST_FILE, is_allowed, project_code, remembered
from opi_cli.cli.settings import Settings
from opi_cli.tools import ALL_TOOLS

__all__ = ["list_extensions"]


def _provides(tools: list[str], commands: list[str], events: list[str]) -> str:
    parts = []
    if tools:
        parts.append("tools: " + ", ".join(tools))
    if commands:
        parts.append("commands: " + ", ".join("/" + c for c in commands))
    if events:
        parts.append("events: " + ", ".join(dict.fromkeys(events)))
    return "; ".join(parts) or "-"


def list_extensions(settings: Settings, console: Console) -> int:
    """Load the extensions as a run would (nothing else runs) and print each, with what it added.

    A failure shows as the extension's status, so the notices of loading are not repeated.
    """
    from opi_cli.cli.extensions import load_extensions

    local = project_code(settings)
    allowed = bool(local) and is_allowed(settings)
    packages = entry_point_sources(settings.home / "cache")
    files = file_sources(settings.cwd)
    loaded = load_extensions(packages + (files if allowed else []), settings.cwd, set(ALL_TOOLS), lambda _m: None)
    rows: list[Text] = []
    for ext in loaded.loaded:
        where = f"{ext.source.origin} ({ext.source.target})" if ext.source.kind == "package" else ext.source.target
        status = Text(f"disabled: {ext.error}", style="red") if ext.disabled else Text("loaded", style="green")
        rows.append(Text.assemble((ext.name, "bold"), "  ", status, f"\n  from: {where}",
                                  f"\n  adds: {_provides(ext.tools, ext.commands, ext.events)}"))
    if not allowed:
        for src in files:
            rows.append(Text.assemble((src.name, "bold"), "  ",
                                      ("not loaded: this folder's code is not allowed", "yellow"),
                                      f"\n  from: {src.target}"))
    if not rows:
        console.print("No extensions. Add .opi/extensions/NAME.py with a register(opi) function, or install a "
                      "package with an 'opi.extensions' entry point (docs/extending.md).", soft_wrap=True)
    for row in rows:
        console.print(row, soft_wrap=True)
    if local:
        answer = remembered(settings)
        state = "allowed" if allowed else ("not allowed" if answer is False else "not allowed yet (the REPL asks once)")
        console.print(Text(f"This folder's own code ({'; '.join(local)}): {state}. "
                           f"Answers are kept in {settings.home / TRUST_FILE}.", style="dim"), soft_wrap=True)
    return 0
