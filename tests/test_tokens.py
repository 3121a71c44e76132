"""Offline token counting: shipped encodings agree with tiktoken's reference encodings.

Every test runs with non-loopback networking blocked and ``TIKTOKEN_CACHE_DIR`` pointing
at an empty folder, so a download or a cache hit would show up as a failure.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opi_cli.ai import tokens
from opi_cli.ai.model import Model
from opi_cli.errors import OpiError
from tests.conftest import SPEED_CHECKS

_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
ENCODINGS: tuple[tokens.EncodingName, ...] = ("o200k_base", "cl100k_base")
MODEL_OF = {"o200k_base": "gpt-4o", "cl100k_base": "gpt-4"}

CORPUS = [
    "hello world",
    "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\n\r\nand more\n\n\n",
    "def f(x: int) -> int:\n    return x ** 2  # square\n",
    'const a = {"k": [1, 2, 3]};\n',
    "1234567890 3.14159 -42 1e10 0xDEADBEEF",
    "I'm you're they'll we've she'd IT'S",
    "日本語のテキストです。中文文本。한국어 텍스트.",
    "Ελληνικά, русский, עברית, العربية, हिन्दी",
    "emoji 🎉🎉 👍🏽 👨‍👩‍👧‍👦 flags 🇫🇷",
    "combining: e\u0301 a\u0308 n\u0303 zero\u200bwidth",
    "<|endoftext|> is ordinary text here <|endofprompt|>",
    "https://example.com/path?q=1&r=two#frag",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u00a0\u2028\u2029\ufeff odd spaces",
    "CamelCaseIdentifierWithNumbers123AndMORE",
    "",
]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No network but loopback, an empty tiktoken cache, and a cold encoding cache."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
            return real_connect(self, address)
        raise OSError(f"network blocked in tests: {address!r}")

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise OSError("DNS blocked in tests")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(tokens, "_encodings", {})
    yield cache
    assert list(cache.iterdir()) == [], "opi must not use tiktoken's cache"


def test_network_is_really_blocked() -> None:
    with pytest.raises(OSError), socket.create_connection(("93.184.216.34", 80), timeout=1):
        pass


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """tiktoken's own encodings (its pattern and special tokens, its hash check).

    tiktoken is given the shipped files through a pre-filled cache under the keys it
    derives from OpenAI's URLs, so it builds its reference without the network.
    """
    import tiktoken
    import tiktoken.registry

    cache = tmp_path_factory.mktemp("reference-cache")
    for name, url in _URLS.items():
        data = resources.files("opi_cli.ai").joinpath("encodings", f"{name}.tiktoken").read_bytes()
        (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
    mp = pytest.MonkeyPatch()
    mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    mp.setattr(socket, "getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(OSError("blocked")))
    try:
        mp.setattr(tiktoken.registry, "ENCODINGS", {})
        refs = {name: tiktoken.get_encoding(name) for name in ENCODINGS}
    finally:
        mp.undo()
    return refs


def test_shipped_files_match_openai_hashes() -> None:
    for name in ENCODINGS:
        data = resources.files("opi_cli.ai").joinpath("encodings", f"{name}.tiktoken").read_bytes()
        assert hashlib.sha256(data).hexdigest() == tokens._SHA256[name]
    # The published values, spelled out so a changed constant cannot pass unnoticed.
    assert tokens._SHA256["o200k_base"].startswith("446a9538cb6c348e")
    assert tokens._SHA256["cl100k_base"].startswith("223921b76ee99bde")


def test_well_known_values() -> None:
    o200k = tokens.get_encoding("o200k_base")
    cl100k = tokens.get_encoding("cl100k_base")
    assert o200k.encode_ordinary("hello world") == [24912, 2375]
    assert cl100k.encode_ordinary("hello world") == [15339, 1917]
    assert cl100k.encode_ordinary("👍") == [9468, 239, 235]
    assert cl100k.encode_ordinary("today\n \n") == [31213, 27907]
    assert cl100k.encode_ordinary("today\n  \n") == [31213, 14211]
    assert cl100k.encode("<|endoftext|>", allowed_special="all") == [100257]
    assert o200k.encode("<|endoftext|>", allowed_special="all") == [199999]
    assert o200k.n_vocab == 200019
    assert cl100k.n_vocab == 100277
    assert tokens.count_tokens("hello world", "gpt-4o") == 2
    assert tokens.count_tokens("hello world", "gpt-4") == 2
    assert tokens.count_tokens("", "gpt-4o") == 0


@pytest.mark.parametrize("name", ENCODINGS)
def test_corpus_matches_reference(name: tokens.EncodingName, reference: dict[str, Any]) -> None:
    ref = reference[name]
    ours = tokens.get_encoding(name)
    for text in CORPUS:
        assert ours.encode_ordinary(text) == ref.encode_ordinary(text), text
        assert tokens.count_tokens(text, MODEL_OF[name]) == len(ref.encode_ordinary(text)), text
    big = "\n".join(CORPUS) * 50
    assert tokens.count_tokens(big, MODEL_OF[name]) == len(ref.encode_ordinary(big))


@settings(max_examples=150, deadline=None, suppress_health_check=[*SPEED_CHECKS, HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_matches_reference(text: str, reference: dict[str, Any]) -> None:
    for name in ENCODINGS:
        assert tokens.count_tokens(text, MODEL_OF[name]) == len(reference[name].encode_ordinary(text))


@pytest.mark.parametrize(
    ("model", "encoding", "estimate"),
    [
        ("gpt-4o", "o200k_base", False),
        ("gpt-4o-mini", "o200k_base", False),
        ("gpt-4.1-nano", "o200k_base", False),
        ("gpt-5", "o200k_base", False),
        ("gpt-5.2-codex", "o200k_base", False),
        ("o1", "o200k_base", False),
        ("o3-mini", "o200k_base", False),
        ("o4-mini", "o200k_base", False),
        ("openai/gpt-oss-120b", "o200k_base", False),
        ("ft:gpt-4o-mini:org::abc", "o200k_base", False),
        ("gpt-4", "cl100k_base", False),
        ("gpt-4-turbo", "cl100k_base", False),
        ("gpt-4-0613", "cl100k_base", False),
        ("gpt-3.5-turbo", "cl100k_base", False),
        ("text-embedding-3-small", "cl100k_base", False),
        ("claude-sonnet-4-5", "o200k_base", True),
        ("anthropic/claude-opus-4-6", "o200k_base", True),
        ("llama3.1:8b", "o200k_base", True),
        ("qwen2.5-coder", "o200k_base", True),
        ("omni-something", "o200k_base", True),
    ],
)
def test_encoding_for(model: str, encoding: str, estimate: bool) -> None:
    assert tokens.encoding_for(model) == encoding
    assert tokens.is_estimate(model) is estimate


def test_encoding_for_model_object() -> None:
    claude = Model(id="claude-haiku-4-5", provider="anthropic", api="anthropic-messages", base_url="x")
    gpt = Model(id="gpt-3.5-turbo", provider="openai", api="openai-completions", base_url="x")
    assert (tokens.encoding_for(claude), tokens.is_estimate(claude)) == ("o200k_base", True)
    assert (tokens.encoding_for(gpt), tokens.is_estimate(gpt)) == ("cl100k_base", False)
    assert tokens.count_tokens("hello world", claude) == 2


def test_estimate_tokens_is_ceil_chars_over_four() -> None:
    assert [tokens.estimate_tokens("x" * n) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]


# -- truncation --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[*SPEED_CHECKS, HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=200),
    n=st.integers(min_value=-1, max_value=60),
    model=st.sampled_from(["gpt-4o", "gpt-4", "claude-sonnet-4-5"]),
)
def test_truncate_properties(text: str, n: int, model: str) -> None:
    out = tokens.truncate_text_to_tokens(text, n, model)
    clean = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    assert clean.startswith(out)
    assert tokens.count_tokens(out, model) <= max(n, 0)
    if n > 0 and tokens.count_tokens(clean, model) <= n:
        assert out == clean
    out.encode("utf-8")  # whole characters only: always encodable


def test_truncate_never_splits_multibyte_characters() -> None:
    text = "🎉" * 10 + "日本語" * 10
    enc = tokens.get_encoding("o200k_base")
    total = len(enc.encode_ordinary(text))
    seen = set()
    for n in range(total + 1):
        out = tokens.truncate_text_to_tokens(text, n, "gpt-4o")
        assert text.startswith(out)
        assert len(enc.encode_ordinary(out)) <= n
        seen.add(out)
    assert tokens.truncate_text_to_tokens(text, total, "gpt-4o") == text
    # An emoji takes more than one token here, so some budgets must round down a whole character.
    assert len(seen) < total + 1


def test_truncate_is_maximal_for_plain_text() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    enc = tokens.get_encoding("cl100k_base")
    ids = enc.encode_ordinary(text)
    for n in (1, 7, 50, len(ids) - 1):
        out = tokens.truncate_text_to_tokens(text, n, "gpt-4")
        assert out == enc.decode(ids[:n])


def test_truncate_edge_cases() -> None:
    assert tokens.truncate_text_to_tokens("", 5, "gpt-4o") == ""
    assert tokens.truncate_text_to_tokens("hello world", 0, "gpt-4o") == ""
    assert tokens.truncate_text_to_tokens("hello world", -3, "gpt-4o") == ""
    assert tokens.truncate_text_to_tokens("hello world", 1, "gpt-4o") == "hello"
    assert tokens.truncate_text_to_tokens("hello world", 2, "gpt-4o") == "hello world"
    assert tokens.truncate_text_to_tokens("a\ud800b c", 100, "gpt-4o") == "a\ufffdb c"


# -- loading -----------------------------------------------------------------------------------


def test_corrupt_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tokens._SHA256, "cl100k_base", "0" * 64)
    with pytest.raises(OpiError, match="corrupt"):
        tokens.count_tokens("x", "gpt-4")


def test_encoding_is_loaded_once() -> None:
    assert tokens.get_encoding("o200k_base") is tokens.get_encoding("o200k_base")


def test_import_does_not_load_tiktoken() -> None:
    code = (
        "import sys, opi_cli.ai.tokens as t\n"
        "assert 'tiktoken' not in sys.modules, 'imported at module import'\n"
        "assert t.count_tokens('hello world', 'gpt-4o') == 2\n"
        "assert 'tiktoken' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
