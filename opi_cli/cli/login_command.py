"""``/login [PROVIDER]`` in the REPL: pick a provider, type its key unseen, store it in auth.json.

The key is typed into the input line with echo off and kept out of the input history;
it is stored with :func:`~opi_cli.cli.login.store_api_key` (mode 0600). When the current
model belongs to that provider at the provider's own endpoint, the next request uses it.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text

from opi_cli.cli.command_base import Command, Host
from opi_cli.cli.login import check_provider, login_providers, store_api_key
from opi_cli.errors import OpiError

__all__ = ["LOGIN_COMMANDS"]


async def _login(host: Host, args: str) -> None:
    registry = host.registry
    names = login_providers(registry)
    name = args.strip()
    if not name:
        idx = await host.choose("Store an API key for which provider?", names)
        if idx is None:
            return
        name = names[idx]
    try:
        name = check_provider(registry, name)
    except OpiError as exc:
        host.print(Text(str(exc), style="red"))
        return
    key = await host.ask_secret(f"API key for {name} (not shown; Enter stores it, Escape cancels)")
    if not key or not key.strip():
        host.print(Text("No key stored.", style="yellow"))
        return
    path = host.settings.auth_json
    store_api_key(path, name, key.strip())
    agent = host.session.agent
    prov = registry.provider(name)
    model = agent.model
    if prov is not None and model.provider == name and model.base_url.rstrip("/") == prov.base_url.rstrip("/"):
        agent.options.stream_options = replace(agent.options.stream_options, api_key=key.strip())
    host.print(Text(f"Stored the {name} key in {path} (readable only by you).", style="green"))


LOGIN_COMMANDS = [Command("login", "store an API key in auth.json (typed unseen)", _login, "[provider]")]
