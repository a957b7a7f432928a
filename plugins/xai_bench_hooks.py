"""``LiteLLMConnectionHook``: litellm credentials from an Airflow Connection.

API keys live in Airflow's secret store (metadata database, a secrets backend or an
``AIRFLOW_CONN_<ID>`` variable), never in DAG code or DAG params. A task asks the hook for
keyword arguments and passes them to litellm (or to ``xai_bench``'s query layer)::

    from xai_bench_hooks import LiteLLMConnectionHook

    creds = LiteLLMConnectionHook("xai_bench_llm").get_conn()
    litellm.completion(model=creds.model or "openai/gpt-4o-mini", messages=..., **creds)

Connection fields (conn_type ``litellm``; ``generic`` and ``http`` connections work too):

``password``  the API key -> ``api_key``
``host``      the API base: a full URL (``https://api.example.com/v1``) or a host name, then
              ``port`` and ``schema`` (the path) complete it; scheme ``https``, or ``http`` for
              localhost / 127.0.0.1 or ``extra.scheme`` -> ``api_base``
``login``     an organisation / account id -> ``organization``
``extra``     JSON; ``headers`` (or ``extra_headers``) -> ``extra_headers``; ``model`` is the
              default model (``creds.model``, not a litellm argument); ``api_version``,
              ``organization``, ``timeout``, ``max_retries``, ``num_retries``,
              ``custom_llm_provider``, ``api_key`` and ``api_base`` pass through. Other keys are
              refused, so a typo does not silently drop a setting.

For example, as an environment variable::

    AIRFLOW_CONN_XAI_BENCH_LLM='{"conn_type": "litellm", "password": "sk-...",
        "host": "https://api.openai.com/v1", "extra": {"model": "openai/gpt-4o-mini"}}'

The returned ``LiteLLMKwargs`` is a dict whose ``repr``/``str`` redact secrets, and the key and
secret-looking header values are registered with Airflow's log masker, so neither a log line
nor a traceback shows them. Do not return it from a task (XComs are stored in clear).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

__all__ = ["LiteLLMConnectionHook", "LiteLLMKwargs", "litellm_kwargs_from_connection"]

REDACTED = "***"
PASSTHROUGH = ("api_key", "api_base", "api_version", "organization", "timeout", "max_retries", "num_retries",
               "custom_llm_provider")
EXTRA_KEYS = frozenset(PASSTHROUGH) | {"headers", "extra_headers", "model", "scheme"}
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "password", "credential")


def _secret_header(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in _SECRET_HEADER_WORDS)


class LiteLLMKwargs(dict):
    """litellm keyword arguments; secrets are hidden from ``repr``/``str`` (``**kwargs`` passes them)."""

    model: str | None = None

    def redacted(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.items():
            if k == "api_key":
                out[k] = REDACTED
            elif k == "api_base" and isinstance(v, str) and "@" in v.split("://", 1)[-1].split("/", 1)[0]:
                scheme, rest = v.split("://", 1) if "://" in v else ("", v)
                out[k] = (f"{scheme}://" if scheme else "") + f"{REDACTED}@" + rest.split("@", 1)[1]
            elif k == "extra_headers" and isinstance(v, Mapping):
                out[k] = {h: REDACTED if _secret_header(h) else hv for h, hv in v.items()}
            else:
                out[k] = v
        return out

    def __repr__(self) -> str:
        return f"LiteLLMKwargs({self.redacted()!r}, model={self.model!r})"

    __str__ = __repr__

    def __reduce__(self):  # pickling keeps the values (Airflow may copy objects between processes)
        return (_rebuild, (dict(self), self.model))


def _rebuild(values: dict[str, Any], model: str | None) -> LiteLLMKwargs:
    out = LiteLLMKwargs(values)
    out.model = model
    return out


def _api_base(conn: Any, extra: Mapping[str, Any]) -> str | None:
    host = (conn.host or "").strip()
    if not host:
        return None
    if "://" in host:
        base = host.rstrip("/")
        if conn.port and f":{conn.port}" not in base.split("://", 1)[1].split("/", 1)[0]:
            scheme, rest = base.split("://", 1)
            authority, _, path = rest.partition("/")
            base = f"{scheme}://{authority}:{conn.port}" + (f"/{path}" if path else "")
    else:
        scheme = extra.get("scheme") or ("http" if host.split(":")[0] in _LOOPBACK else "https")
        base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    if conn.schema:
        base = f"{base}/{conn.schema.strip('/')}"
    return base


def litellm_kwargs_from_connection(conn: Any) -> LiteLLMKwargs:
    """litellm keyword arguments from anything with Connection fields (see the module docstring)."""
    extra: Any = {}
    if conn.extra:
        try:
            extra = json.loads(conn.extra) if isinstance(conn.extra, str) else dict(conn.extra)
        except ValueError as e:
            raise ValueError(f"Connection {conn.conn_id!r}: 'extra' must be a JSON object. Got invalid JSON ({e}).") from e
    if not isinstance(extra, Mapping):
        raise ValueError(f"Connection {conn.conn_id!r}: 'extra' must be a JSON object. Got {type(extra).__name__}.")
    unknown = sorted(set(extra) - EXTRA_KEYS)
    if unknown:
        raise ValueError(
            f"Connection {conn.conn_id!r}: unknown 'extra' keys {unknown}. Allowed: {sorted(EXTRA_KEYS)}."
        )
    out = LiteLLMKwargs()
    for key in PASSTHROUGH:
        if extra.get(key) not in (None, ""):
            out[key] = extra[key]
    if conn.password:
        out["api_key"] = conn.password
    if conn.login:
        out.setdefault("organization", conn.login)
    base = _api_base(conn, extra)
    if base:
        out["api_base"] = base
    headers = extra.get("extra_headers") or extra.get("headers")
    if headers:
        if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
            raise ValueError(f"Connection {conn.conn_id!r}: 'extra.headers' must map header names to strings.")
        out["extra_headers"] = dict(headers)
    out.model = extra.get("model") or None
    return out


class LiteLLMConnectionHook(BaseHook):
    """Turns the Airflow Connection ``llm_conn_id`` into litellm keyword arguments.

    ``connection`` may be given directly (tests, or a connection built in code from a
    secrets backend); otherwise it is looked up by id when first needed, not at construction.
    """

    conn_name_attr = "llm_conn_id"
    default_conn_name = "xai_bench_llm"
    conn_type = "litellm"
    hook_name = "LiteLLM (xai-bench)"

    def __init__(self, llm_conn_id: str = default_conn_name, *, connection: Any | None = None) -> None:
        super().__init__()
        self.llm_conn_id = llm_conn_id
        self._given = connection

    def __repr__(self) -> str:
        return f"{type(self).__name__}(llm_conn_id={self.llm_conn_id!r})"

    @cached_property
    def connection(self) -> Any:
        return self._given if self._given is not None else self.get_connection(self.llm_conn_id)

    def get_conn(self) -> LiteLLMKwargs:
        """The litellm keyword arguments (secrets masked in Airflow's logs)."""
        kwargs = litellm_kwargs_from_connection(self.connection)
        _mask(kwargs)
        self.log.info("litellm credentials from connection %r: %r", self.llm_conn_id, kwargs)
        return kwargs

    get_litellm_kwargs = get_conn

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection's fields without calling the provider (no network)."""
        try:
            kwargs = litellm_kwargs_from_connection(self.connection)
        except ValueError as e:
            return False, str(e)
        if "api_key" not in kwargs and "api_base" not in kwargs:
            return False, "The connection has neither a password (API key) nor a host (API base)."
        return True, f"litellm arguments: {sorted(kwargs)}"


def _mask(kwargs: Mapping[str, Any]) -> None:
    """Register secret values with Airflow's log masker (best effort outside a task) and with
    xai-bench's redaction policy (``xai_bench.secrets``: no file it writes holds them)."""
    from xai_bench.secrets import register_secret

    register_secret(kwargs.get("api_key"))
    for name, value in (kwargs.get("extra_headers") or {}).items():
        if _secret_header(name):
            register_secret(value)
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older Task SDKs
        return
    if kwargs.get("api_key"):
        mask_secret(str(kwargs["api_key"]))
    for name, value in (kwargs.get("extra_headers") or {}).items():
        if _secret_header(name) and value:
            mask_secret(str(value))
