"""``opi --mode rpc`` under hostile input and at its edges: fuzzed stdin, huge lines, EOF, signals.

The fuzz feeds one process a few hundred lines from a seeded generator (malformed JSON,
other JSON values, unknown commands, invalid parameters, huge lines, invalid UTF-8, valid
commands, runs); the process must never die and must answer every non-blank line exactly
once. Hypothesis then tries short batches of arbitrary lines (bytes, text, any JSON value).
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opi_cli.cli.stdin_lines import MAX_LINE
from tests.conftest import SPEED_CHECKS
from tests.mock_llm import MockLLM
from tests.rpc.client import RpcProcess, assert_valid, mock_args, responses

OK_SCRIPT = {"repeat_last": True, "responses": [{"steps": [{"text": "ok"}]}]}
HANG = {"responses": [{"steps": [{"text": "streaming slowly"}], "chunk_size": 4, "delay_ms": 20, "hang": True}]}

_CHEAP = [
    {"type": "get_state"}, {"type": "get_messages"}, {"type": "get_session_stats"}, {"type": "get_commands"},
    {"type": "get_last_assistant_text"}, {"type": "get_fork_messages"}, {"type": "get_available_models"},
    {"type": "set_auto_retry", "enabled": False}, {"type": "set_auto_compaction", "enabled": True},
    {"type": "set_thinking_level", "level": "high"}, {"type": "cycle_thinking_level"},
    {"type": "set_steering_mode", "mode": "all"}, {"type": "set_follow_up_mode", "mode": "one-at-a-time"},
    {"type": "abort_retry"}, {"type": "abort_bash"}, {"type": "set_session_name", "name": "fuzzed"},
    {"type": "steer", "message": "s"}, {"type": "follow_up", "message": "f"},
    {"type": "prompt", "message": "hello"}, {"type": "prompt", "message": "q", "streamingBehavior": "followUp"},
    {"type": "abort"}, {"type": "bash", "command": "echo fuzz"}, {"type": "cycle_model"},
    {"type": "set_model", "provider": "nope", "modelId": "none"}, {"type": "switch_session", "sessionPath": "zz9"},
    {"type": "fork", "entryId": "00000000"}, {"type": "compact"},
]
_INVALID = [
    {"type": "prompt"}, {"type": "prompt", "message": 5}, {"type": "steer", "message": None},
    {"type": "set_thinking_level", "level": "max"}, {"type": "set_model", "provider": "x"},
    {"type": "bash", "command": ""}, {"type": "set_auto_retry", "enabled": "yes"},
    {"type": "prompt", "message": "x", "images": [{"type": "image", "data": "@@@", "mimeType": "image/png"}]},
    {"type": "set_session_name", "name": "   "}, {"type": "fork"}, {"type": 7}, {"id": {"no": 1}, "type": "get_state"},
]


def _line(rng: random.Random, n: int) -> bytes:
    """One line of fuzz; ``n`` is its id when it carries one."""
    roll = rng.random()
    if roll < 0.3:
        return json.dumps({"id": n, **rng.choice(_CHEAP)}).encode()
    if roll < 0.45:
        return json.dumps({"id": n, **rng.choice(_INVALID)}).encode()
    if roll < 0.55:
        return json.dumps({"id": n, "type": rng.choice(["nope", "", "PROMPT", "get-state", "extension_ui_response"])}).encode()
    if roll < 0.65:
        return json.dumps(rng.choice([[1, 2], "text", 3, None, True, {"no": "type"}])).encode()
    if roll < 0.75:
        return rng.choice([b"{", b"not json", b'{"type": "get_state"', b"\xff\xfe\x00garbage", b'{"a":' * 5000,
                           b"[" * 100000, b'"\\ud800"', b"{}\r"])
    if roll < 0.8:
        size = rng.choice([1 << 16, 1 << 20, 3 << 20])
        return b'{"id": %d, "type": "steer", "message": "%s"}' % (n, b"m" * size)
    if roll < 0.85:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" ")
    if roll < 0.9:
        return rng.choice([b"", b"   ", b"\r", b"\t"])  # blank: no answer
    return json.dumps({"id": n, "type": "prompt", "message": "fuzz " + "z" * rng.randrange(50)}).encode()


def _answered_once(lines: list[bytes], out: list[dict[str, Any]]) -> None:
    commands = [line for line in lines if line.strip()]
    got = responses(out)
    assert len(got) == len(commands), (len(got), len(commands))
    sent: Counter[str] = Counter()
    for line in commands:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and "id" in obj:
            sent[json.dumps(obj["id"], sort_keys=True)] += 1
    answered = Counter(json.dumps(r["id"], sort_keys=True) for r in got if "id" in r)
    for key, n in answered.items():  # never more answers for an id than commands that carried it
        assert n <= sent[key], f"id {key} was answered {n} times, sent {sent[key]} times"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_stdin_never_kills_it_and_every_line_gets_one_answer(workdir: Path, seed: int) -> None:
    rng = random.Random(seed)
    lines = [_line(rng, n) for n in range(1, 301)]
    with MockLLM(OK_SCRIPT) as srv:
        p = RpcProcess(["--mode", "rpc", *mock_args(srv)], workdir)
        try:
            p.write(b"\n".join(lines) + b"\n")
            assert p.finish(timeout=300) == 0, p.stderr[-3000:]
        finally:
            p.kill()
    _answered_once(lines, p.lines)
    assert_valid(p.lines)
    assert b"Traceback" not in p.stderr, p.stderr[-3000:]


@pytest.fixture(scope="module")
def shared_rpc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpcProcess]:
    """One long-lived process for the Hypothesis examples (a process per example would take minutes)."""
    home = tmp_path_factory.mktemp("home")
    p = RpcProcess(["--mode", "rpc", "--no-session", "--base-url", "http://127.0.0.1:9/v1", "--provider", "openai",
                    "--api-key", "x", "--model", "m", "--api", "openai-completions"], tmp_path_factory.mktemp("w"),
                   env={"HOME": str(home), "OPI_HOME": str(home / ".opi")})
    yield p
    try:
        assert p.finish() == 0, p.stderr[-2000:]
        assert_valid(p.lines)
    finally:
        p.kill()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["type", "id", "message", "x"]) | st.text(max_size=8),
                                                       c, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, suppress_health_check=[*SPEED_CHECKS, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode),
                          _JSON.map(lambda v: json.dumps(v).encode())), min_size=1, max_size=12))
def test_any_lines_get_one_answer_each(shared_rpc: RpcProcess, lines: list[bytes]) -> None:
    """Lines with no newline inside: whatever they hold, one answer per non-blank line (and the
    process reads on: a sentinel command after them is answered too)."""
    lines = [line.replace(b"\n", b" ") for line in lines]
    mark = shared_rpc.mark()
    sentinel = f"sentinel-{uuid.uuid4()}"
    shared_rpc.write(b"\n".join(lines) + b"\n" + json.dumps({"id": sentinel, "type": "get_commands"}).encode() + b"\n")
    shared_rpc.wait_for(lambda o: o.get("id") == sentinel, after=mark)
    got = responses(shared_rpc.lines[mark:])
    assert got[-1]["id"] == sentinel
    _answered_once(lines, got[:-1])


def test_a_line_over_the_limit_is_refused_and_the_next_is_read(workdir: Path) -> None:
    with MockLLM(OK_SCRIPT) as srv:
        p = RpcProcess(["--mode", "rpc", *mock_args(srv)], workdir)
        try:
            p.write(b'{"id": 1, "type": "steer", "message": "' + b"x" * MAX_LINE + b'"}\n{"id": 2, "type": "get_state"}\n')
            assert p.finish() == 0
        finally:
            p.kill()
    first, second = responses(p.lines)
    assert first["command"] == "parse" and not first["success"] and "Line too long" in first["error"]
    assert second["id"] == 2 and second["success"]


def test_eof_ends_after_the_running_turn(workdir: Path, opi_home: Path) -> None:
    script = {"responses": [{"steps": [{"text": "finished the work"}], "chunk_size": 2, "delay_ms": 5}]}
    with MockLLM(script) as srv:
        p = RpcProcess(["--mode", "rpc", *mock_args(srv)], workdir)
        try:
            p.send("prompt", message="work")
            assert p.finish() == 0  # EOF at once: the run still completes
        finally:
            p.kill()
    ends = [o for o in p.lines if o["type"] == "message_end" and o["message"]["role"] == "assistant"]
    assert ends[-1]["message"]["stopReason"] == "stop"
    assert ends[-1]["message"]["content"][0]["text"] == "finished the work"
    assert p.lines[-1]["type"] == "agent_end"
    files = list((opi_home / "sessions").glob("*/*.jsonl"))
    assert files and "finished the work" in files[0].read_text()


@contextlib.contextmanager
def streaming(workdir: Path) -> Iterator[RpcProcess]:
    """An rpc process whose run is streaming a reply that never ends (until aborted)."""
    with MockLLM(HANG) as srv:
        p = RpcProcess(["--mode", "rpc", *mock_args(srv)], workdir)
        try:
            p.send("prompt", message="go")
            p.event("message_update")
            yield p
        finally:
            p.kill()


def test_abort_then_eof_ends_at_once(workdir: Path) -> None:
    with streaming(workdir) as p:
        p.send("steer", message="queued, then dropped")
        aborted = p.call("abort")
        assert aborted["data"] == {"steering": ["queued, then dropped"], "followUp": []}
        assert p.finish() == 0
    end = [o for o in p.lines if o["type"] == "message_end" and o["message"]["role"] == "assistant"][-1]
    assert end["message"]["stopReason"] == "aborted"
    # the abort is answered after the run is idle
    kinds = [o["type"] if o["type"] != "response" else o["command"] for o in p.lines]
    assert kinds.index("agent_end") < kinds.index("abort")


def test_sigint_aborts_the_turn_not_the_process(workdir: Path) -> None:
    with streaming(workdir) as p:
        p.signal(signal.SIGINT)
        end = p.event("agent_end")
        assert end["messages"][-1]["stopReason"] == "aborted"
        assert p.call("get_state")["data"]["isStreaming"] is False
        assert p.finish() == 0


def test_sigterm_aborts_and_ends(workdir: Path) -> None:
    with streaming(workdir) as p:
        p.signal(signal.SIGTERM)
        assert p.proc.wait(60) == 143
        assert p.event("agent_end")["messages"][-1]["stopReason"] == "aborted"
