"""Locate the ``opi`` executable the way a user runs it, and time whole processes.

The installed console script sits next to this interpreter (``sys.executable``); pyenv's
``opi``/``python3`` on PATH are bash shims that add tens of milliseconds, so they are only a
last resort. The script must run *this checkout's* code: if it cannot print its version (a
stale editable install) or imports ``opi_cli`` from elsewhere (an install of another
checkout), the benches add ``PYTHONPATH=<repo>`` as the test suite does, and say so.

Nothing is written into the checkout: every process started here (and the bench processes
``run_all`` starts) keeps its bytecode under :func:`cache_dir` (``PYTHONPYCACHEPREFIX``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "OpiCommand", "cache_dir", "clean_env", "find_opi", "pycache_prefix", "time_interleaved",
           "time_runs"]

ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Where the benches keep what outlives a run (pi's npm install, bytecode): ``OPI_BENCH_CACHE``,
    else ``$XDG_CACHE_HOME/opi-bench``, else ``~/.cache/opi-bench``."""
    chosen = os.environ.get("OPI_BENCH_CACHE")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opi-bench"


def pycache_prefix() -> str:
    """The bytecode folder of every process the benches start (outside the checkout)."""
    return str(cache_dir() / "pycache")


@dataclass(frozen=True, slots=True)
class OpiCommand:
    """How to start opi: ``argv`` prefix, extra environment, and what was chosen and why."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    description: str
    warning: str = ""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment minus Python variables that would change what is measured
    (bytecode goes to :func:`pycache_prefix`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OPI_"))}
    env["PYTHONPYCACHEPREFIX"] = pycache_prefix()
    env.update(extra or {})
    return env


def _is_python_script(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def _interpreter(path: Path) -> str:
    with path.open("rb") as fh:
        return fh.readline()[2:].decode().strip()


def _candidates() -> list[tuple[tuple[str, ...], str, str]]:
    """(argv, the interpreter it runs, description), fastest first."""
    out: list[tuple[tuple[str, ...], str, str]] = []
    beside = Path(sys.executable).parent / "opi"
    if beside.is_file() and os.access(beside, os.X_OK) and _is_python_script(beside):
        out.append(((str(beside),), _interpreter(beside), f"console script {beside}"))
    found = shutil.which("opi")
    if found and Path(found) != beside and _is_python_script(Path(found)):
        out.append(((found,), _interpreter(Path(found)), f"console script {found}"))
    out.append(((sys.executable, "-m", "opi_cli"), sys.executable, f"{sys.executable} -m opi_cli"))
    return out


def _runs_this_checkout(argv: Sequence[str], interpreter: str, env: Mapping[str, str]) -> bool:
    """``argv --version`` works and its interpreter imports ``opi_cli`` from this checkout."""
    try:
        version = subprocess.run([*argv, "--version"], env=dict(env), cwd="/", capture_output=True, text=True,
                                 timeout=60)
        where = subprocess.run([interpreter, "-c", "import opi_cli; print(opi_cli.__file__)"], env=dict(env),
                               cwd="/", capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if version.returncode != 0 or not version.stdout.startswith("opi ") or where.returncode != 0:
        return False
    return Path(where.stdout.strip()).resolve().is_relative_to(ROOT)


def find_opi() -> OpiCommand:
    """The fastest honest way to run this checkout's opi (see the module docstring)."""
    plain = clean_env()
    with_path = clean_env({"PYTHONPATH": str(ROOT)})
    candidates = _candidates()
    for argv, interpreter, desc in candidates:
        if _runs_this_checkout(argv, interpreter, plain):
            return OpiCommand(argv, plain, desc)
    for argv, interpreter, desc in candidates:
        if _runs_this_checkout(argv, interpreter, with_path):
            warning = (
                f"`{' '.join(argv)}` does not run this checkout's code by itself (an install of another "
                "checkout, or a stale one: `pip install -e .[dev]` here fixes it); measuring with PYTHONPATH=<repo>"
            )
            return OpiCommand(argv, with_path, desc + " (PYTHONPATH=repo)", warning)
    raise RuntimeError("cannot run opi: neither the console script nor `python -m opi_cli` works")


def time_runs(
    argv: Sequence[str],
    n: int,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout_s: float = 120.0,
    warmup: int = 1,
) -> list[float]:
    """Wall time of ``n`` runs of ``argv`` (output discarded) after ``warmup`` untimed runs.

    Raises:
        RuntimeError: a run exited non-zero (its stderr tail is in the message).
    """
    samples: list[float] = []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        proc = subprocess.run(
            list(argv), env=None if env is None else dict(env), cwd=cwd,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout_s,
        )
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace")[-500:]
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {tail}")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def time_interleaved(
    commands: Sequence[tuple[Sequence[str], Mapping[str, str]]], n: int, *, cwd: str = "/"
) -> list[list[float]]:
    """``n`` timed runs of each (argv, env), round-robin, so load changes hit all of them alike."""
    samples: list[list[float]] = [[] for _ in commands]
    for argv, env in commands:  # warm-up: page cache, .pyc files
        time_runs(argv, 0, env=env, cwd=cwd, warmup=1)
    for _ in range(n):
        for i, (argv, env) in enumerate(commands):
            samples[i] += time_runs(argv, 1, env=env, cwd=cwd, warmup=0)
    return samples
