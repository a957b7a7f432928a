"""The package layout: imports run one way (no cycles), modules stay short, one error family,
and every location and offline switch has one owner."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import sys

import click
import pytest
from click.testing import CliRunner

import xai_bench
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import check_imports  # noqa: E402


def test_no_import_cycles_and_no_long_modules():
    files = sorted(check_imports.PKG.rglob("*.py"))
    modules = {check_imports.module_name(f) for f in files}
    graph = {check_imports.module_name(f): check_imports.imports_of(f, modules) for f in files}
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    assert check_imports.find_cycles(graph) == []
    assert "xai_bench.llm.query" in graph["xai_bench.explain.explainer"]  # the graph is really read


def test_cycle_finder_finds_a_cycle():
    assert check_imports.find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert check_imports.find_cycles({"a": {"b"}, "b": set()}) == []


def test_subpackages_import_down_the_readme_layout_order():
    """The README's Layout table lists the folders top to bottom; no module imports one listed above its own."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1].split("\nAround it", 1)[0]
    order = re.findall(r"^\| `xai_bench/(\w*)/?` ", section, flags=re.M)
    assert order[:7] == ["cli", "ops", "benchmark", "datasets", "explain", "metrics", "llm"] and order[-1] == ""
    rank = {name: i for i, name in enumerate(order)}  # "" = the top-level modules, last
    files = sorted(check_imports.PKG.rglob("*.py"))
    modules = {check_imports.module_name(f) for f in files}

    def folder(module: str) -> str:
        part = module.split(".")[1] if module.count(".") >= 1 else ""
        return part if part in rank and part else ""

    upward = [(m, d) for f in files if (m := check_imports.module_name(f)) != "xai_bench"  # the facade re-exports
              for d in check_imports.imports_of(f, modules) if d != "xai_bench" and rank[folder(d)] < rank[folder(m)]]
    assert upward == []


@pytest.mark.parametrize("lower, upper", [
    ("xai_bench.explain", ("xai_bench.benchmark", "xai_bench.ops", "xai_bench.cli")),
    ("xai_bench.llm", ("xai_bench.explain", "xai_bench.benchmark", "xai_bench.ops", "xai_bench.cli")),
    ("xai_bench.datasets", ("xai_bench.benchmark", "xai_bench.ops", "xai_bench.cli")),
    ("xai_bench.benchmark", ("xai_bench.ops", "xai_bench.cli")),
])
def test_imports_run_down(lower, upper):
    files = sorted(check_imports.PKG.rglob("*.py"))
    modules = {check_imports.module_name(f) for f in files}
    for f in files:
        name = check_imports.module_name(f)
        if name == lower or name.startswith(lower + "."):
            bad = {d for d in check_imports.imports_of(f, modules) if d.startswith(upper)}
            assert not bad, f"{name} imports {sorted(bad)} (above it)"


def _all_modules():
    for info in pkgutil.walk_packages(xai_bench.__path__, "xai_bench."):
        if not info.name.endswith("__main__"):
            yield importlib.import_module(info.name)


def test_every_exception_is_an_xai_bench_error():
    from xai_bench.errors import XaiBenchError

    found = {}
    for mod in _all_modules():
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == mod.__name__:
                found[f"{mod.__name__}.{name}"] = obj
    assert "xai_bench.errors.ConfigError" in found and "xai_bench.ops.results.GateInputError" in found
    outside = [n for n, cls in found.items() if not issubclass(cls, (XaiBenchError, click.ClickException))]
    assert outside == []


def test_config_and_feature_errors_stay_value_errors():
    from xai_bench.config import ConfigError, ExplainConfig
    from xai_bench.errors import FeatureError, XaiBenchError

    assert issubclass(ConfigError, (XaiBenchError)) and issubclass(ConfigError, ValueError)
    assert issubclass(FeatureError, (XaiBenchError)) and issubclass(FeatureError, ValueError)
    with pytest.raises(ConfigError, match="'n_samples' parameter must be an int"):
        ExplainConfig(n_samples=0)


def test_the_cli_boundary_turns_library_errors_into_exit_2():
    from xai_bench.cli._common import user_errors
    from xai_bench.errors import ConfigError, FeatureError

    for err in (ConfigError("bad sigma"), FeatureError("empty prompt")):
        @click.command()
        @user_errors
        def cmd(err=err):
            raise err

        result = CliRunner().invoke(cmd, [])
        assert result.exit_code == 2 and f"Error: {err}" in result.output


def test_paths_follow_the_environment(monkeypatch, tmp_path):
    from xai_bench import paths

    monkeypatch.setenv("XAI_BENCH_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("XAI_BENCH_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("XAI_BENCH_AUDIT_LOG", raising=False)
    assert paths.home() == tmp_path / "h"
    assert paths.response_cache_path() == tmp_path / "c" / "responses.sqlite"
    assert paths.model_cache_dir() == tmp_path / "c" / "models"
    assert paths.audit_log_path() == tmp_path / "h" / "audit" / "audit.jsonl"
    assert paths.mlflow_dir() == (tmp_path / "h").resolve() / "mlflow"
    monkeypatch.setenv("XAI_BENCH_AUDIT_LOG", str(tmp_path / "a.jsonl"))
    assert paths.audit_log_path() == tmp_path / "a.jsonl"
    monkeypatch.delenv("XAI_BENCH_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "u"))
    assert paths.cache_dir() == tmp_path / "u" / ".cache" / "xai-bench"


def test_set_offline_env_keeps_what_the_user_set(monkeypatch):
    from xai_bench.offline import OFFLINE_ENV, TELEMETRY_OFF_ENV, set_offline_env

    for key in (*OFFLINE_ENV, *TELEMETRY_OFF_ENV):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    set_offline_env()
    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert "DVC_NO_ANALYTICS" not in os.environ
    set_offline_env(telemetry=True)
    assert os.environ["DVC_NO_ANALYTICS"] == "1"


# An environment variable -> the one module that reads or sets it.
_OWNERS = {
    "XAI_BENCH_CACHE_DIR": "xai_bench/paths.py",
    # the DAG side cannot import xai_bench at parse time (no heavy imports in DAG files): its
    # one copy is plugins/xai_bench_project.py, shared by both DAG files
    "XAI_BENCH_HOME": ("plugins/xai_bench_project.py", "xai_bench/paths.py"),
    "XAI_BENCH_AUDIT_LOG": "xai_bench/paths.py",
    "XAI_BENCH_CALL_LOG": "xai_bench/paths.py",
    "LITELLM_LOCAL_MODEL_COST_MAP": "xai_bench/offline.py",
    "TRANSFORMERS_OFFLINE": "xai_bench/offline.py",
    "DVC_NO_ANALYTICS": "xai_bench/offline.py",
}


def _env_access(name: str) -> re.Pattern[str]:
    """Code that reads or sets the variable (docstrings and help texts may name it)."""
    q = r"[\"']" + re.escape(name) + r"[\"']"
    return re.compile(r"(environ\.get\(|environ\[|getenv\(|setdefault\(|environ\.pop\(|^\s*)" + q + r"(\s*:)?")


def test_env_access_detector():
    pat = _env_access("XAI_BENCH_CACHE_DIR")
    assert pat.search('base = os.environ.get("XAI_BENCH_CACHE_DIR") or x')
    assert pat.search("os.environ.setdefault('XAI_BENCH_CACHE_DIR', '1')")
    assert not pat.search("help='default: $XAI_BENCH_CACHE_DIR or ~/.cache'")


@pytest.mark.parametrize("name, owner", sorted(_OWNERS.items()))
def test_one_owner_per_environment_variable(name, owner):
    pat = _env_access(name)
    holders = sorted({p.relative_to(REPO).as_posix()
                      for folder in ("xai_bench", "dags", "plugins", "benchmarks")
                      for p in (REPO / folder).rglob("*.py")
                      if any(pat.search(line) for line in p.read_text(encoding="utf-8").splitlines())})
    assert holders == sorted(owner if isinstance(owner, tuple) else [owner])


def test_location_env_names_only_what_is_given(tmp_path, monkeypatch):
    from xai_bench import paths

    env = paths.location_env(audit_log=tmp_path / "a.jsonl", cache_dir=tmp_path / "c")
    assert set(env) == {"XAI_BENCH_AUDIT_LOG", "XAI_BENCH_CACHE_DIR"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert paths.audit_log_path() == tmp_path / "a.jsonl"
    assert paths.response_cache_path().parent == tmp_path / "c"
