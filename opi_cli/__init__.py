"""opi: a terminal coding agent and agent runtime.

The library surface (``Agent``, ``AgentBuilder``, ``Config``, ``ToolRegistry``, ``tool``,
errors, stores, token utilities, Realtime client) is re-exported lazily, so
``import opi_cli`` stays cheap: nothing heavy is imported until a name is used.
"""

from __future__ import annotations

__version__ = "0.1.0"
