"""Token counting and truncation with tiktoken, offline, from the encoding files opi ships.

The two BPE tables (``o200k_base``, ``cl100k_base``) live in ``opi_cli/ai/encodings/``
and are checked against OpenAI's published SHA-256 before use; the ``tiktoken.Encoding``
is built here with the same pattern and special tokens as ``tiktoken_ext.openai_public``,
so tiktoken's downloader (and its cache directory) is never involved. tiktoken itself is
imported on first use, not when this module is imported.

Models with other tokenizers (Claude, Llama, Qwen, ...) are counted with ``o200k_base``
as an estimate; :func:`is_estimate` says when a count is one.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import threading
from importlib import resources
from typing import TYPE_CHECKING, Literal

from opi_cli.ai.model import Model
from opi_cli.errors import OpiError

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "EncodingName",
    "count_tokens",
    "encoding_for",
    "estimate_tokens",
    "get_encoding",
    "is_estimate",
    "truncate_text_to_tokens",
]

EncodingName = Literal["o200k_base", "cl100k_base"]

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"

# Published by OpenAI (tiktoken_ext/openai_public.py, ``expected_hash``).
_SHA256: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

_PAT_STR: dict[str, str] = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
        r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}

_SPECIAL_TOKENS: dict[str, dict[str, int]] = {
    "cl100k_base": {
        _ENDOFTEXT: 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        _ENDOFPROMPT: 100276,
    },
    "o200k_base": {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
}

# Model-id families, after stripping ``provider/`` and ``ft:`` prefixes.
_CL100K = re.compile(r"^(gpt-4(?!o|\.\d)(-|$)|gpt-3\.5|gpt-35|text-embedding-|davinci-002|babbage-002)")
_O200K = re.compile(r"^(gpt-4o|chatgpt-4o|gpt-4\.\d|gpt-5|gpt-oss|o\d(-|$)|codex-|computer-use-)")

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def _family_id(model: Model | str) -> str:
    mid = model.id if isinstance(model, Model) else model
    mid = mid.strip().lower()
    if mid.startswith("ft:"):
        mid = mid[3:]
    return mid.rsplit("/", 1)[-1]


def encoding_for(model: Model | str) -> EncodingName:
    """The tiktoken encoding for ``model`` (a :class:`Model` or a model id).

    ``cl100k_base`` for GPT-4 (not 4o/4.1), GPT-3.5 and the text-embedding models;
    ``o200k_base`` for GPT-4o, 4.1, 5, the o-series and everything else (an estimate for
    non-OpenAI models, see :func:`is_estimate`).
    """
    return "cl100k_base" if _CL100K.match(_family_id(model)) else "o200k_base"


def is_estimate(model: Model | str) -> bool:
    """True when ``model`` does not use the encoding we count with (Claude, Llama, ...)."""
    fid = _family_id(model)
    return not (_CL100K.match(fid) or _O200K.match(fid))


def estimate_tokens(text: str) -> int:
    """pi's cheap estimate: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


def get_encoding(name: EncodingName) -> tiktoken.Encoding:
    """The tiktoken ``Encoding`` called ``name``, loaded once from the shipped file.

    Raises:
        OpiError: tiktoken is not installed, or the shipped file is missing or corrupt.
    """
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    with _lock:
        enc = _encodings.get(name)
        if enc is None:
            enc = _load(name)
            _encodings[name] = enc
    return enc


def _load(name: EncodingName) -> tiktoken.Encoding:
    try:
        import tiktoken
    except ImportError as exc:  # pragma: no cover - tiktoken is a dependency
        raise OpiError("token counting needs tiktoken: pip install tiktoken") from exc
    ref = resources.files("opi_cli.ai").joinpath("encodings", f"{name}.tiktoken")
    try:
        data = ref.read_bytes()
    except OSError as exc:
        raise OpiError(f"encoding file {name}.tiktoken is missing from the opi installation") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != _SHA256[name]:
        raise OpiError(f"encoding file {name}.tiktoken is corrupt (sha256 {digest[:12]}...); reinstall opi")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name, pat_str=_PAT_STR[name], mergeable_ranks=ranks, special_tokens=_SPECIAL_TOKENS[name]
    )


def count_tokens(text: str, model: Model | str = "gpt-4o") -> int:
    """Number of tokens ``text`` takes for ``model``.

    Special-token strings such as ``<|endoftext|>`` are counted as ordinary text, as a
    provider sees them in user content. For non-OpenAI models the count is an
    ``o200k_base`` estimate (:func:`is_estimate`).
    """
    if not text:
        return 0
    return len(get_encoding(encoding_for(model)).encode_ordinary(text))


def truncate_text_to_tokens(text: str, max_tokens: int, model: Model | str = "gpt-4o") -> str:
    """The longest prefix of ``text`` (cut at a token boundary) that is at most ``max_tokens`` tokens.

    Never splits a character: a token ending inside a multi-byte UTF-8 sequence is dropped
    with that partial character. The result is a prefix of ``text`` (of its U+FFFD-repaired
    form if ``text`` holds lone surrogates, which UTF-8 cannot carry).
    """
    if max_tokens <= 0 or not text:
        return ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    enc = get_encoding(encoding_for(model))
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text
    keep = max_tokens
    while keep > 0:
        raw = enc.decode_bytes(tokens[:keep])
        prefix = text[: len(_utf8_prefix(raw))]
        # Re-encoding a prefix can, rarely, split differently; shrink until it fits.
        if len(enc.encode_ordinary(prefix)) <= max_tokens:
            return prefix
        keep -= 1
    return ""


def _utf8_prefix(raw: bytes) -> str:
    """``raw`` decoded, without a trailing incomplete character."""
    for cut in range(min(4, len(raw)) + 1):
        try:
            return raw[: len(raw) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="ignore")
