"""A production install (`pip install .`, no extras, as the image does) runs every service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.keys import public_key_path
from tests.infrastructure import Infrastructure, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "compose" / "Dockerfile"
SERVICES = ("intake", "routing", "audit", "delivery", "web")


def image_sources() -> list[str]:
    """What the Dockerfile copies into the image before `pip install .`."""
    lines = DOCKERFILE.read_text().splitlines()
    return [source for line in lines if line.startswith("COPY ") for source in line.split()[1:-1]]


def without_development(environment: dict[str, str]) -> dict[str, str]:
    """This environment without what would let the worktree or its .venv leak in."""
    leaking = ("PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    return {key: value for key, value in environment.items() if key not in leaking}


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding only `pip install .` of the image's sources."""
    source = tmp_path_factory.mktemp("source")
    for name in image_sources():
        origin = ROOT / name
        if origin.is_dir():
            ignored = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
            shutil.copytree(origin, source / name, ignore=ignored)
        else:
            shutil.copy2(origin, source / name)
    venv = tmp_path_factory.mktemp("prodvenv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
        cwd=source.parent, env=without_development(dict(os.environ)),
        capture_output=True, text=True, timeout=420, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv / "bin"


def run_in(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command of the production venv, away from the worktree."""
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=without_development(dict(os.environ)),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_production_install_has_no_development_packages(production: Path, tmp_path: Path) -> None:
    for module in ("pytest", "hdrh", "matplotlib"):
        imported = run_in(production, "python", "-c", f"import {module}", cwd=tmp_path)
        assert imported.returncode != 0, f"{module} is installed without an extra"


def test_safeguard_answers_and_bench_asks_for_its_extra(production: Path, tmp_path: Path) -> None:
    helped = run_in(production, "safeguard", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for command in ("up", "down", "status", "run", "token", "policy", "audit", "bench", "keys"):
        assert command in helped.stdout
    bench = run_in(production, "safeguard", "bench", cwd=tmp_path)
    assert bench.returncode == 2, bench.stdout + bench.stderr
    assert "needs the bench extra" in bench.stderr
    assert "pip install 'safeguarding-exchange[bench]'" in bench.stderr
    assert "Traceback" not in bench.stdout + bench.stderr


@dataclass(frozen=True)
class Running:
    """One service started from the production venv."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture
def running_services(
    production: Path, infrastructure: Infrastructure, signing_key_path: Path,
    audit_key_path: Path, tmp_path: Path,
) -> Iterator[dict[str, Running]]:  # fmt: skip
    """`safeguard run <service>` for each service, from the production venv; their URLs."""
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    environment = {
        "PATH": f"{production}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DATABASE_URL": infrastructure.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "JWT_PUBLIC_KEY_PATH": str(public_key_path(signing_key_path)),
        "AUDIT_SIGNING_KEY_PATH": str(audit_key_path),
        "INTAKE_URL": urls["intake"],
        "ROUTING_URL": urls["routing"],
        "AUDIT_URL": urls["audit"],
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    running: dict[str, Running] = {}
    try:
        for name in SERVICES:
            log = tmp_path / f"{name}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [str(production / "safeguard"), "run", name],
                    cwd=tmp_path, env=environment, stdout=output, stderr=subprocess.STDOUT,
                )  # fmt: skip
            running[name] = Running(urls[name], process, log)
        yield running
    finally:
        for service in running.values():
            service.process.terminate()
        for name, service in running.items():
            try:
                service.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
                pytest.fail(f"{name} did not stop on SIGTERM; see {service.log}")


def test_every_service_of_a_production_install_gets_ready(
    running_services: dict[str, Running],
) -> None:
    waiting = dict(running_services)
    deadline = time.monotonic() + 150
    while waiting and time.monotonic() < deadline:
        for name, service in list(waiting.items()):
            exited = service.process.poll()
            assert exited is None, f"{name} exited ({exited}):\n{service.log.read_text()[-3000:]}"
            if service.ready():
                del waiting[name]
        time.sleep(0.5)
    tails = "\n".join(f"{name}: {s.log.read_text()[-2000:]}" for name, s in waiting.items())
    assert not waiting, f"not ready within 150 s: {', '.join(waiting)}\n{tails}"
