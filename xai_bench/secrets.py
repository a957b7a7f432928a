"""What counts as a secret, for everything xai-bench records (audit log, MLflow tags and artifacts)
and for the configurations it refuses (``config.refuse_secrets``).

A key is secret when its name contains api_key, apikey, token, secret, password, passwd,
authorization, credential(s), private_key, access_key or secret_key as a word (so
``max_new_tokens`` stays, ``HF_TOKEN`` goes). A string is redacted where it looks like an
API key (``sk-...``, ``hf_...``, ``ghp_...``, ``AKIA...``, ``xoxb-...``).
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "SECRET_VALUE", "key_is_secret", "redact_text"]

REDACTED = "[REDACTED]"

_SECRET_WORDS = {"token", "secret", "password", "passwd", "authorization", "credential", "credentials", "apikey"}
_SECRET_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")}
SECRET_VALUE = re.compile(
    r"(?<![A-Za-z0-9_])(?:sk-[A-Za-z0-9_\-]{12,}"  # OpenAI / Anthropic style
    r"|hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9\-]{10,})"
)


def key_is_secret(key: str) -> bool:
    """True when a word (or word pair) of the key's name marks it as a secret."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", key)]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))


def redact_text(text: str) -> str:
    """``text`` with every key-like substring replaced by ``REDACTED``."""
    return SECRET_VALUE.sub(REDACTED, text)
