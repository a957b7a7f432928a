"""The one validated configuration of an explanation run.

Every default lives here. Values come from (highest precedence first) command-line
flags, a YAML file, then these defaults. Validation happens once, at construction,
with messages in scikit-learn's form ("The 'sigma' parameter must be ...").
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

from .errors import ConfigError
from .secrets import SECRET_VALUE, key_is_secret

__all__ = ["ExplainConfig", "ConfigError", "METHODS", "MethodSpec", "OUTPUT_MODES", "OutputOptions", "refuse_secrets",
           "check_keys", "FORMER_EXTRA_KEYS"]

_CREDENTIALS_GO = ("Credentials do not belong in a configuration (it is copied in plain text into the run's files): "
                   "set an environment variable that litellm reads (e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY) or, "
                   "under Airflow, an Airflow Connection named by the DAG's 'llm_conn_id' parameter.")


def refuse_secrets(values: Any, where: str = "") -> None:
    """Raise ConfigError naming the place of the first key or value that looks like a credential.

    A key is a credential by :func:`xai_bench.secrets.key_is_secret` (api_key, token, secret,
    password, authorization, ...) when it holds a value; a string value when it looks like an
    API key (``sk-...``, ``hf_...``, ...). Mappings and lists are searched to any depth. The
    value itself is never repeated in the message.
    """
    if isinstance(values, dict):
        for key, value in values.items():
            place = f"{where}.{key}" if where else str(key)
            if key_is_secret(str(key)) and value not in (None, "", {}, []):
                raise ConfigError(f"The configuration key {place!r} looks like a credential. {_CREDENTIALS_GO}")
            refuse_secrets(value, place)
    elif isinstance(values, (list, tuple)):
        for i, value in enumerate(values):
            refuse_secrets(value, f"{where}[{i}]")
    elif isinstance(values, str) and SECRET_VALUE.search(values):
        raise ConfigError(f"The value of {where or 'a configuration key'!r} looks like an API key. {_CREDENTIALS_GO}")

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    """How one explanation method turns perturbations and responses into a surrogate.

    input_distance: distance between the original and perturbed prompt
        ("wmd": IWMD over token embeddings, eq. 1; "cosine": cosine distance of the
        binary masks, LIME's text default).
    kernel: "gaussian" is gSMILE's exp(-(d/sigma)^2) (eq. 4); "lime" is LIME's
        sqrt(exp(-d^2/width^2)).
    output_distance: "wmd" (OWMD, Wasserstein-P over output token embeddings, eq. 2),
        "cosine" (cosine distance of output sentence embeddings) or "wmd+cosine" (their sum).
    surrogate: "wlr" (weighted least squares, eq. 6), "ridge" (LIME's Ridge(alpha=1)),
        "bayesian_ridge" (Bay-LIME).
    """

    name: str
    input_distance: Literal["wmd", "cosine"]
    kernel: Literal["gaussian", "lime"]
    output_distance: Literal["wmd", "cosine", "wmd+cosine"]
    surrogate: Literal["wlr", "ridge", "bayesian_ridge"]


METHODS: dict[str, MethodSpec] = {
    "gsmile": MethodSpec(name="gsmile", input_distance="wmd", kernel="gaussian", output_distance="wmd", surrogate="wlr"),
    "lime": MethodSpec(name="lime", input_distance="cosine", kernel="lime", output_distance="cosine", surrogate="ridge"),
    "baylime": MethodSpec(
        name="baylime", input_distance="cosine", kernel="lime", output_distance="cosine", surrogate="bayesian_ridge"
    ),
}


def _check(name: str, ok: bool, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"The {name!r} parameter must be {expected}. Got {value!r} instead.")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    """A finite int or float (every range here excludes inf; JSON outputs cannot hold it)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# Perturbation sampling strategies (see xai_bench.explain.adaptive).
SAMPLINGS = ("fixed", "adaptive")

# Output-distance options (see xai_bench.explain.output_distance).
OUTPUT_MODES = ("text", "samples", "logprobs")


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    mode: str = "text"
    n_samples: int = 8
    top_logprobs: int = 10


# The keys that lived in the untyped ``extra`` mapping before they became fields of ExplainConfig.
FORMER_EXTRA_KEYS = ("output_mode", "n_samples", "top_logprobs", "num_retries", "concurrency", "max_failure_share",
                     "retry_initial_wait", "retry_max_wait", "call_log")


def check_keys(where: str, values: Any, allowed: Iterable[str]) -> None:
    """Raise ConfigError if ``values`` is not a mapping or has a key outside ``allowed`` (with a "did you mean")."""
    allowed = sorted(allowed)
    if not isinstance(values, Mapping):
        raise ConfigError(f"The {where!r} section must be a mapping of keys. Got {values!r} instead.")
    for key in values:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"Unknown key {key!r} in {where}.{hint} Available: {', '.join(allowed)}.")


def _refuse_extra(values: Mapping[str, Any], where: str) -> None:
    """The migration error for a configuration that still has the removed ``extra`` mapping."""
    if "extra" not in values:
        return
    extra = values["extra"]
    keys = [str(k) for k in extra] if isinstance(extra, Mapping) else []
    moved = [k for k in keys if k in FORMER_EXTRA_KEYS]
    example = ", ".join(f"{k}: {extra[k]!r}" for k in moved) or "output_mode: samples, n_samples: 8"
    msg = (f"The 'extra' key in {where} was removed: its settings are now keys of {where} itself "
           f"({', '.join(FORMER_EXTRA_KEYS)}). Write {{{example}}} instead of {{extra: {{{example}}}}}.")
    unknown = [k for k in keys if k not in FORMER_EXTRA_KEYS]
    if unknown:
        msg += f" Not settings (they were ignored before): {', '.join(map(repr, unknown))}."
    raise ConfigError(msg)


@dataclass(frozen=True, kw_only=True)
class ExplainConfig:
    """Every parameter of one explanation, with its default.

    sigma: kernel width of eq. 4. "auto" (the default) sets sigma to the median of the
        non-zero IWMD values of the run, so the median perturbation gets weight
        exp(-1) = 0.37 and at least half of all weights are >= 0.37: the weights never
        collapse onto a handful of samples whatever the scale of the embedding space.
        A number fixes sigma.
    lime_kernel_width: LIME's kernel width on the cosine distance (LIME's text explainer
        uses 25 on distances scaled by 100, i.e. 0.25 here).
    wasserstein_p: the order P of the output Wasserstein distance (OWMD).
    pvalue_permutations: permutations per perturbation in Algorithm 1 (0 disables p-values).
    exclude_nonsignificant: drop perturbations whose OWMD p-value is >= alpha before fitting
        (paper, section 4.2). Off by default: a perturbation that did not move the output
        is evidence that the removed words did not matter.
    output_mode: how OWMD compares outputs (xai_bench.explain.output_distance): "text" (one
        answer per prompt), "samples" (n_samples answers per prompt, temperature > 0) or
        "logprobs" (the top_logprobs next-token candidates).
    num_retries, concurrency, max_failure_share, retry_initial_wait, retry_max_wait, call_log:
        how requests are sent (xai_bench.llm.query.QuerySettings); they never change an
        answer or its cache key. call_log falls back to $XAI_BENCH_CALL_LOG.
    sampling: "fixed" (the default, the paper's protocol: n_perturbations masks drawn at once) or
        "adaptive" (xai_bench.explain.adaptive: the original prompt as an all-ones anchor, then
        complement pairs of masks with stratified sizes, adaptive_initial first and adaptive_step
        more per round, until the attributions of every method correlate with their own
        refits on adaptive_bootstrap bootstrap resamples at adaptive_stability or more on
        average, or n_perturbations masks are drawn).
    """

    methods: tuple[str, ...] = ("gsmile",)
    n_perturbations: int = 64
    keep_prob: float = 0.5
    seed: int = 0
    max_features: int = 64
    temperature: float = 0.0
    max_tokens: int = 48
    top_p: float | None = None
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    sigma: float | Literal["auto"] = "auto"
    lime_kernel_width: float = 0.25
    wasserstein_p: float = 1.0
    pvalue_permutations: int = 1000
    alpha: float = 0.05
    exclude_nonsignificant: bool = False
    embedding_model: str = "all-MiniLM-L6-v2"
    api_base: str | None = None
    timeout: float = 120.0
    # output distance (xai_bench.explain.output_distance)
    output_mode: Literal["text", "samples", "logprobs"] = "text"
    n_samples: int = 8
    top_logprobs: int = 10
    # how requests are sent (xai_bench.llm.query.QuerySettings); not part of the response cache key
    num_retries: int = 3
    concurrency: int | dict[str, int] | None = None
    max_failure_share: float = 0.1
    retry_initial_wait: float = 0.5
    retry_max_wait: float = 20.0
    call_log: str | None = None
    # perturbation sampling (xai_bench.explain.adaptive): "fixed" draws n_perturbations masks at once (the
    # paper's protocol); "adaptive" draws paired masks in rounds until the top words are stable, at most
    # n_perturbations of them
    sampling: Literal["fixed", "adaptive"] = "fixed"
    adaptive_initial: int = 8
    adaptive_step: int = 4
    adaptive_stability: float = 0.9
    adaptive_bootstrap: int = 50
    # in-process local models (xai_bench.llm.models.batched): prompts decoded together per llama_decode step
    # (1, the default: one at a time, as before; batching did not pay on the loaded 2-core machine, see
    # docs/llama-build.md) and llama.cpp threads (None: every core this process may use); recorded with the
    # run; a batch size > 1 enters the response cache key (the module docstring says why)
    local_batch_size: int = 1
    local_threads: int | None = None

    def __post_init__(self) -> None:
        given = self.methods
        methods = tuple(given) if not isinstance(given, str) else (given,)
        object.__setattr__(self, "methods", methods)
        _check("methods", len(methods) > 0, "a non-empty list of method names", given)
        for m in methods:
            if m not in METHODS:
                raise ConfigError(
                    f"Unknown method {m!r}. Available: {', '.join(sorted(METHODS))}."
                )
        _check("n_perturbations", _is_int(self.n_perturbations) and 2 <= self.n_perturbations <= 100_000,
               "an int in the range [2, 100000]", self.n_perturbations)
        _check("keep_prob", _is_num(self.keep_prob) and 0 < self.keep_prob < 1,
               "a float in the range (0, 1)", self.keep_prob)
        _check("seed", _is_int(self.seed) and self.seed >= 0, "an int >= 0", self.seed)
        _check("max_features", _is_int(self.max_features) and self.max_features >= 1,
               "an int >= 1", self.max_features)
        _check("temperature", _is_num(self.temperature) and 0 <= self.temperature <= 2,
               "a float in the range [0, 2]", self.temperature)
        _check("max_tokens", _is_int(self.max_tokens) and 1 <= self.max_tokens <= 8192,
               "an int in the range [1, 8192]", self.max_tokens)
        _check("top_p", self.top_p is None or (_is_num(self.top_p) and 0 < self.top_p <= 1),
               "None or a float in the range (0, 1]", self.top_p)
        _check("sigma", self.sigma == "auto" or (_is_num(self.sigma) and self.sigma > 0),
               "'auto' or a float in the range (0, inf)", self.sigma)
        _check("lime_kernel_width", _is_num(self.lime_kernel_width) and self.lime_kernel_width > 0,
               "a float in the range (0, inf)", self.lime_kernel_width)
        _check("wasserstein_p", _is_num(self.wasserstein_p) and self.wasserstein_p >= 1,
               "a float in the range [1, inf)", self.wasserstein_p)
        _check("pvalue_permutations", _is_int(self.pvalue_permutations) and self.pvalue_permutations >= 0,
               "an int >= 0", self.pvalue_permutations)
        _check("alpha", _is_num(self.alpha) and 0 < self.alpha < 1, "a float in the range (0, 1)", self.alpha)
        _check("system_prompt", self.system_prompt is None or isinstance(self.system_prompt, str),
               "None or a string", self.system_prompt)
        _check("exclude_nonsignificant", isinstance(self.exclude_nonsignificant, bool), "a bool",
               self.exclude_nonsignificant)
        _check("embedding_model", isinstance(self.embedding_model, str) and bool(self.embedding_model.strip()),
               "a non-empty string (a sentence-transformers model name)", self.embedding_model)
        _check("api_base", self.api_base is None or (isinstance(self.api_base, str)
                                                     and self.api_base.startswith(("http://", "https://"))),
               "None or an http:// or https:// URL", self.api_base)
        _check("timeout", _is_num(self.timeout) and self.timeout > 0, "a float in the range (0, inf)", self.timeout)
        _check("output_mode", self.output_mode in OUTPUT_MODES, f"one of {', '.join(map(repr, OUTPUT_MODES))}",
               self.output_mode)
        _check("n_samples", _is_int(self.n_samples) and 1 <= self.n_samples <= 256, "an int in the range [1, 256]",
               self.n_samples)
        _check("top_logprobs", _is_int(self.top_logprobs) and 1 <= self.top_logprobs <= 20,
               "an int in the range [1, 20]", self.top_logprobs)
        _check("temperature", self.output_mode != "samples" or self.temperature > 0,
               "a float in the range (0, 2] when output_mode is 'samples' (at temperature 0 every sample is the "
               "same answer)", self.temperature)
        _check("num_retries", _is_int(self.num_retries) and 0 <= self.num_retries <= 100, "an int in the range [0, 100]",
               self.num_retries)
        c = self.concurrency
        if isinstance(c, Mapping):
            c = dict(c)
            object.__setattr__(self, "concurrency", c)
        _check("concurrency", c is None or (_is_int(c) and c >= 1) or (isinstance(c, dict) and all(
               isinstance(k, str) and _is_int(v) and v >= 1 for k, v in c.items())),
               "None, an int >= 1 or a mapping provider -> int >= 1 (e.g. {'openai': 8, 'default': 4})", c)
        _check("max_failure_share", _is_num(self.max_failure_share) and 0 <= self.max_failure_share <= 1,
               "a float in the range [0, 1]", self.max_failure_share)
        _check("retry_initial_wait", _is_num(self.retry_initial_wait) and self.retry_initial_wait >= 0,
               "a float in the range [0, inf)", self.retry_initial_wait)
        _check("retry_max_wait", _is_num(self.retry_max_wait) and self.retry_max_wait >= self.retry_initial_wait,
               f"a float in the range [retry_initial_wait, inf) = [{self.retry_initial_wait}, inf)", self.retry_max_wait)
        if isinstance(self.call_log, os.PathLike):
            object.__setattr__(self, "call_log", os.fspath(self.call_log))
        _check("call_log", self.call_log is None or (isinstance(self.call_log, str) and bool(self.call_log.strip())),
               "None or a file path", self.call_log)
        _check("sampling", self.sampling in SAMPLINGS, f"one of {', '.join(map(repr, SAMPLINGS))}", self.sampling)
        _check("adaptive_initial", _is_int(self.adaptive_initial) and self.adaptive_initial >= 2
               and self.adaptive_initial % 2 == 0, "an even int >= 2 (masks come in complement pairs)",
               self.adaptive_initial)
        _check("adaptive_step", _is_int(self.adaptive_step) and self.adaptive_step >= 2 and self.adaptive_step % 2 == 0,
               "an even int >= 2 (masks come in complement pairs)", self.adaptive_step)
        _check("adaptive_stability", _is_num(self.adaptive_stability) and 0 < self.adaptive_stability <= 1,
               "a float in the range (0, 1]", self.adaptive_stability)
        _check("adaptive_bootstrap", _is_int(self.adaptive_bootstrap) and 10 <= self.adaptive_bootstrap <= 10_000,
               "an int in the range [10, 10000]", self.adaptive_bootstrap)
        _check("output_mode", self.sampling != "adaptive" or self.output_mode == "text",
               "'text' when sampling is 'adaptive' (its rounds compare one answer per prompt)", self.output_mode)
        _check("local_batch_size", _is_int(self.local_batch_size) and 1 <= self.local_batch_size <= 256,
               "an int in the range [1, 256]", self.local_batch_size)
        _check("local_threads", self.local_threads is None or (_is_int(self.local_threads) and self.local_threads >= 1),
               "None (every core this process may use) or an int >= 1", self.local_threads)
        refuse_secrets({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    @property
    def output_options(self) -> OutputOptions:
        """The output-distance options (mode, n_samples, top_logprobs)."""
        return OutputOptions(mode=self.output_mode, n_samples=self.n_samples, top_logprobs=self.top_logprobs)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "the explain configuration") -> "ExplainConfig":
        """Build from a mapping (e.g. a YAML section); unknown keys are an error with suggestions."""
        refuse_secrets(values)
        _refuse_extra(values if isinstance(values, Mapping) else {}, where)
        check_keys(where, values, (f.name for f in dataclasses.fields(cls)))
        return cls(**values)

    def replace(self, **changes: Any) -> "ExplainConfig":
        """A copy with some values changed (validated again). None values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods)
        return d
