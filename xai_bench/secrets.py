"""The one redaction policy: what counts as a secret in everything xai-bench writes, and the
rules configuration loading uses to refuse credentials (``config.refuse_secrets``).

Where credentials come from: the environment (``OPENAI_API_KEY``, ``HF_TOKEN``, ...), an
Airflow Connection (``AIRFLOW_CONN_<ID>`` or Airflow's secret store, read by the DAG's
``llm_conn_id`` hook) or a secrets backend; never a benchmark configuration, which refuses
any value that looks like one at load time.

Three rules, applied at every write (run folder files, ``explanation.json``, reports, MLflow
params, tags and artifacts, the audit log):

1. **Known credentials** (``known_secrets()``): the values of secret-named environment
   variables, the password and secret ``extra`` fields of every ``AIRFLOW_CONN_*`` variable,
   and values registered with ``register_secret`` (the Connection hook registers what it
   hands to litellm). Each is replaced by ``REDACTED`` wherever it appears in a file written
   through this policy, data included: a credential is never data. Values shorter than 8
   characters are ignored (``true``, ``1``).
2. **Secret-named keys**: in structured records the value of a key whose name contains
   api_key, apikey, token, secret, password, passwd, authorization, credential(s),
   private_key, access_key or secret_key as a word (``max_new_tokens`` stays, ``HF_TOKEN``
   goes) is replaced.
3. **Key-shaped strings** (``SECRET_VALUE``: ``sk-...``, ``hf_...``, ``ghp_...``,
   ``AKIA...``, ``xoxb-...``): refused in a configuration; in metadata (MLflow params, tags
   and text artifacts, the audit log) replaced too. Prompts and responses in the run folder
   are data and are kept as given apart from rule 1 (``redact_known``, ``redact_data``): a
   prompt that mentions a key-shaped string is what the user asked about.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["REDACTED", "SECRET_VALUE", "MIN_SECRET_LENGTH", "key_is_secret", "known_secrets", "redact_data",
           "redact_known", "redact_text", "register_secret"]

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8

_SECRET_WORDS = {"token", "secret", "password", "passwd", "authorization", "credential", "credentials", "apikey"}
_SECRET_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("fernet", "key")}
SECRET_VALUE = re.compile(
    r"(?<![A-Za-z0-9_])(?:sk-[A-Za-z0-9_\-]{12,}"  # OpenAI / Anthropic style
    r"|hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9\-]{10,})"
)
_CONN_PREFIX = "AIRFLOW_CONN_"
_registered: set[str] = set()


@lru_cache(maxsize=4096)
def key_is_secret(key: str) -> bool:
    """True when a word (or word pair) of the key's name marks it as a secret."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", key)]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))


def register_secret(value: Any) -> None:
    """Treat ``value`` as a known credential from now on in this process (rule 1)."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
        _registered.add(value)


def _secret_values(obj: Any, secret: bool = False) -> set[str]:
    """String values under secret-named keys anywhere in ``obj`` (all strings when ``secret``)."""
    if isinstance(obj, Mapping):
        return {v for k, val in obj.items() for v in _secret_values(val, secret or key_is_secret(str(k)))}
    if isinstance(obj, (list, tuple)):
        return {v for val in obj for v in _secret_values(val, secret)}
    return {obj} if secret and isinstance(obj, str) else set()


def _connection_secrets(value: str) -> set[str]:
    """The password and secret extra fields of an ``AIRFLOW_CONN_*`` value (JSON or URI form)."""
    text = value.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return {text}  # unreadable: the whole value is treated as secret
        if not isinstance(doc, Mapping):
            return set()
        extra = doc.get("extra")
        if isinstance(extra, str):
            try:
                extra = json.loads(extra)
            except ValueError:
                extra = {}
        return ({str(doc["password"])} if doc.get("password") else set()) | _secret_values(extra)
    parts = urlsplit(text)
    out = {unquote(parts.password)} if parts.password else set()
    for pair in parts.query.split("&"):
        key, _, val = pair.partition("=")
        if key_is_secret(unquote(key)) and val:
            out.add(unquote(val))
    return out


@lru_cache(maxsize=8)
def _known(env: tuple[tuple[str, str], ...], registered: frozenset[str]) -> tuple[frozenset[str], re.Pattern | None]:
    values = set(registered)
    for raw_name, raw_value in env:
        name, value = os.fsdecode(raw_name), os.fsdecode(raw_value)
        if value and name.startswith(_CONN_PREFIX):
            values |= _connection_secrets(value)
        elif value and key_is_secret(name):
            values.add(value)
    values = {v for v in values if len(v) >= MIN_SECRET_LENGTH}
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))) if values else None
    return frozenset(values), pattern


def _known_state() -> tuple[frozenset[str], re.Pattern | None]:
    # a snapshot of the environment as the cache key: recomputed whenever a variable changes.
    # os.environ._data (CPython's undecoded copy) is 10x cheaper to snapshot than decoding items()
    data = getattr(os.environ, "_data", None)
    env = tuple(data.items()) if isinstance(data, dict) else tuple(os.environ.items())
    return _known(env, frozenset(_registered))


def known_secrets() -> frozenset[str]:
    """The credentials this process knows of now (rule 1 of the module docstring)."""
    return _known_state()[0]


def redact_known(text: str) -> str:
    """``text`` with every known credential (rule 1) replaced by ``REDACTED``; for data."""
    pattern = _known_state()[1]
    return text if pattern is None or not text else pattern.sub(REDACTED, text)


def redact_text(text: str) -> str:
    """``text`` with known credentials and every key-shaped substring replaced (rules 1 and 3);
    for metadata (MLflow, the audit log)."""
    return SECRET_VALUE.sub(REDACTED, redact_known(text))


def redact_data(obj: Any, *, secret_keys: bool = True) -> Any:
    """A copy of JSON-like ``obj`` for a file: known credentials in any string (rule 1) and, with
    ``secret_keys``, values of secret-named keys (rule 2) replaced; other values kept as given.
    ``secret_keys=False`` for records whose key names are data (log-probabilities' "token")."""
    if isinstance(obj, Mapping):
        return {k: REDACTED if secret_keys and key_is_secret(str(k)) and obj[k] not in (None, "", {}, [])
                else redact_data(v, secret_keys=secret_keys) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_data(v, secret_keys=secret_keys) for v in obj]
    return redact_known(obj) if isinstance(obj, str) else obj
