"""SIGTERM and SIGHUP end a run the way an abort does, then exit 143 / 129.

The default action of both signals kills the process on the spot: a running tool's process
group (started in its own session) would survive it, and ``--json`` would end without its
``session_summary``. With these handlers the run is aborted instead (which SIGKILLs every
running tool's group), the session is flushed and closed, and the exit code is 128 + signal.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

__all__ = ["EXIT_CODES", "describe", "install_exit_signals"]

EXIT_CODES: dict[int, int] = {signal.SIGTERM: 143, signal.SIGHUP: 129}


def describe(code: int) -> str:
    """One line for stderr: why the run ended."""
    return "terminated (SIGTERM)" if code == 143 else "the terminal hung up (SIGHUP)"


def install_exit_signals(on_signal: Callable[[int], None]) -> Callable[[], None]:
    """Call ``on_signal(exit_code)`` on SIGTERM/SIGHUP (once; repeats are ignored) in the
    running loop; returns the function that restores the defaults."""
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    fired: list[int] = []

    def handle(sig: int) -> None:
        if not fired:
            fired.append(sig)
            on_signal(EXIT_CODES[sig])

    for sig in EXIT_CODES:
        try:
            loop.add_signal_handler(sig, handle, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove
