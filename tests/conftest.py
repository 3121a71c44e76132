"""Hermetic tests: every test gets its own OPI_HOME and HOME and no provider keys."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# No test may depend on machine speed: on a loaded 2-core machine Hypothesis's "too slow"
# health check and its per-example deadline fire at random.
SPEED_CHECKS = (HealthCheck.too_slow,)
settings.register_profile("opi", deadline=None, suppress_health_check=SPEED_CHECKS)
settings.load_profile("opi")

ROOT = Path(__file__).resolve().parent.parent

# The tests start the real ``opi`` several hundred times. Where the environment forbids
# bytecode files (PYTHONDONTWRITEBYTECODE, as on these machines), every start would compile
# opi's ~150 modules afresh (~100 ms each time, a third of the suite's CPU). An installed opi
# runs from compiled bytecode, so the children do too: from a cache folder outside the checkout
# (PYTHONPYCACHEPREFIX), made by the first pytest process and shared with its xdist workers.
_PYC_VAR = "OPI_TEST_PYCACHE"
if _PYC_VAR not in os.environ and not os.environ.get("PYTHONPYCACHEPREFIX"):
    import tempfile

    os.environ[_PYC_VAR] = os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="opi-test-pyc-")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.get(_PYC_VAR)
    if folder and not hasattr(config, "workerinput"):  # the controller made it; workers share it
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


_KEY_VARS = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_OAUTH_TOKEN",
    "GROQ_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "MISTRAL_API_KEY", "XAI_API_KEY",
    "CEREBRAS_API_KEY", "GEMINI_API_KEY", "OPI_HOME", "NO_COLOR", "VISUAL", "EDITOR",
)


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    for var in _KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPI_HOME", str(home / ".opi"))
    yield home


@pytest.fixture
def opi_home(hermetic: Path) -> Path:
    path = hermetic / ".opi"
    path.mkdir(exist_ok=True)
    return path


def run_opi(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``opi`` process (python -m opi_cli) and capture its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONPATH", str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "opi_cli", *args],
        cwd=cwd,
        env=full_env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def spawn_opi() -> Iterator[Any]:
    """Start the real ``opi`` process (stdin closed, output piped) for tests that signal it;
    whatever is still running at the end of the test is killed."""
    started: list[subprocess.Popen[str]] = []

    def spawn(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("PYTHONPATH", str(ROOT))
        proc = subprocess.Popen(
            [sys.executable, "-m", "opi_cli", *args], cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_until(check: Any, timeout: float = 30, what: str = "condition") -> None:
    """Poll ``check()`` until it is true; fail after ``timeout`` seconds (a generous bound, not a speed test)."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def session_records(opi_home: Path) -> list[dict[str, Any]]:
    """The records of the one session file under ``opi_home`` (each line must be JSON)."""
    import json

    files = list(opi_home.glob("sessions/*/*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "repo"
    d.mkdir()
    return d


def fast_retry_settings(opi_home: Path, **extra: Any) -> None:
    import json

    settings = {"retry": {"enabled": True, "maxRetries": 3, "baseDelayMs": 10, "maxDelayMs": 60000}}
    settings.update(extra)
    (opi_home / "settings.json").write_text(json.dumps(settings))
