"""Real Apache Kafka (KRaft, one combined broker/controller) assembled from Maven Central."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.local.processes import StartupError, pid_of, port_open, start_daemon, stop_process
from deploy.local.processes import wait_until as _wait_until

KAFKA_VERSION = "4.1.1"
HERE = Path(__file__).resolve().parent


def cache_root() -> Path:
    """Where downloaded jars live: outside the repository, shared by every checkout."""
    base = os.environ.get("SAFEGUARD_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "safeguard" if base else Path.home() / ".cache" / "safeguard"


def ensure_kafka_jars(progress: bool = True) -> Path:
    """Resolve Kafka and its runtime dependencies with mvn once; later calls need no network."""
    lib = cache_root() / f"kafka-{KAFKA_VERSION}" / "lib"
    marker = lib / ".complete"
    if marker.exists():
        return lib
    if shutil.which("mvn") is None:
        raise StartupError(
            "Maven (mvn) is needed once to fetch Apache Kafka: install it, then retry."
        )
    if progress:
        print(f"  fetching Apache Kafka {KAFKA_VERSION} from Maven Central (first run only)...")
    lib.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn", "-q", "-B", "-f", str(HERE / "kafka-pom.xml"),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={lib}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise StartupError(f"mvn could not resolve Kafka:\n{result.stdout[-3000:]}{result.stderr}")
    marker.write_text(KAFKA_VERSION)
    return lib


@dataclass(frozen=True)
class LocalKafka:
    """One KRaft node under home (its config, data and log), listening on 127.0.0.1."""

    home: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "1g"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def logfile(self) -> Path:
        return self.home / "kafka.log"

    def running(self) -> bool:
        """Whether our broker process is alive."""
        return pid_of(self.pidfile) is not None

    def start(self, *, timeout: float = 90.0) -> None:
        """Format storage on first use and start the node; return once it accepts connections."""
        if self.running() and port_open("127.0.0.1", self.port):
            return
        for port in (self.port, self.controller_port):
            if port_open("127.0.0.1", port):
                raise StartupError(
                    f"Port {port} is taken by another program; stop it or choose other ports."
                )
        lib = ensure_kafka_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        properties = self._write_properties()
        classpath = f"{lib}/*"
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = subprocess.run(
                ["java", "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            subprocess.run(
                [
                    "java", "-cp", classpath, "kafka.tools.StorageTool", "format",
                    "-t", cluster_id, "-c", str(properties), "--standalone",
                ],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
        start_daemon(
            [
                "java", f"-Xmx{self.heap}", f"-Xms{self.heap}",
                f"-Dlog4j2.configurationFile={HERE / 'kafka-log4j2.yaml'}",
                f"-Dkafka.logs.dir={self.home / 'logs'}",
                "-cp", classpath, "kafka.Kafka", str(properties),
            ],
            pidfile=self.pidfile,
            logfile=self.logfile,
        )  # fmt: skip
        _wait_until(
            lambda: port_open("127.0.0.1", self.port),
            timeout=timeout,
            what="Kafka",
            alive=self.running,
            logfile=self.logfile,
        )

    def stop(self) -> bool:
        """Stop the node; True if it was running."""
        return stop_process(self.pidfile, timeout=30.0)

    def _write_properties(self) -> Path:
        path = self.home / "server.properties"
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.home / 'data'}",
                    f"metadata.log.dir={self.home / 'data'}",
                    "auto.create.topics.enable=false",
                    "num.partitions=6",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    # One node: nobody else will join, so do not hold new groups back.
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.hours=168",
                    "",
                ]
            )
        )
        return path
