"""``create_agent_session``: the one way an agent session is made, for the CLI and the library.

pi's SDK ``createAgentSession()`` is the model: the ``opi`` command (``cli/runtime.py``) and
the library's ``Agent`` (``sdk/agent.py``) both build their session here, so a Python program
gets the same loop, compaction (threshold, overflow, manual), persistence, queues and
retries as the CLI: there is one agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opi_cli.agent.agent import AgentOptions, LoopAgent
from opi_cli.session.agent_session import AgentSession
from opi_cli.session.compaction import CompactionSettings
from opi_cli.session.writer import SessionWriter

if TYPE_CHECKING:
    from opi_cli.session.compaction import Summarizer
    from opi_cli.session.session_hooks import SessionHooks

__all__ = ["create_agent_session"]


async def create_agent_session(
    agent: AgentOptions | LoopAgent,
    writer: SessionWriter,
    *,
    record_settings: bool,
    compaction: CompactionSettings | None = None,
    summarizer: Summarizer | None = None,
    session_hooks: SessionHooks | None = None,
) -> AgentSession:
    """Start an :class:`AgentSession` over ``writer`` (inside the running event loop).

    Args:
        agent: the loop agent's options (a new one is made), or one made earlier (the
            library makes it when the program builds the agent, before any event loop).
        writer: the session the conversation is stored in (any store).
        record_settings: a new session records the model and thinking level first.
        compaction: the ``compaction`` settings (pi's defaults when None).
        summarizer: writes compaction summaries instead of the model.
        session_hooks: the session's own hook points (settings hooks, extensions; see
            :mod:`opi_cli.session.session_hooks`).
    """
    loop_agent = agent if isinstance(agent, LoopAgent) else LoopAgent(agent)
    return await AgentSession.start(
        loop_agent, writer, record_settings=record_settings, compaction=compaction, summarizer=summarizer,
        session_hooks=session_hooks,
    )
