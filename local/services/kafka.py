"""Kafka 4 broker in KRaft mode (broker + controller in one JVM), Maven Central jars (scripts/install/kafka.sh).

Topics are created from the `topics` of every needs.yaml; auto-creation is off so an undeclared topic fails loudly.
"""

from __future__ import annotations

import base64
import shutil
import uuid
from pathlib import Path

from local import paths, ports, proc
from local.services.base import Endpoint, Service, ServiceError

LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def libs() -> Path:
    return paths.OPT / "kafka" / "libs"


def cluster_id() -> str:
    """A Kafka cluster id (base64url of a UUID), never starting with '-', which the CLI would read as an option
    (Kafka's own Uuid.randomUuid() re-draws for the same reason)."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def bootstrap() -> str:
    return f"{ports.HOST}:{ports.port('kafka')}"


def java_command(main_class: str, *args: str, heap: str = "256m") -> list[str]:
    """A Kafka CLI class (e.g. org.apache.kafka.tools.ProducerPerformance) on the installed classpath."""
    java = shutil.which("java") or "java"
    return [java, f"-Xmx{heap}", "-cp", f"{libs()}/*", f"-Dlog4j2.configurationFile={Kafka().data_dir() / 'log4j2.properties'}",
            main_class, *args]


class Kafka(Service):
    name = "kafka"
    tcp_ports = ("kafka", "kafka_controller")
    install_script = "kafka.sh"
    start_timeout = 90.0

    def installed(self) -> bool:
        return (libs() / ".pom-sha256").exists() and shutil.which("java") is not None

    def _config(self) -> Path:
        return self.data_dir() / "server.properties"

    def prepare(self) -> None:
        data = self.data_dir()
        broker, controller = ports.port("kafka"), ports.port("kafka_controller")
        self._config().write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{ports.HOST}:{controller}",
            f"listeners=PLAINTEXT://{ports.HOST}:{broker},CONTROLLER://{ports.HOST}:{controller}",
            f"advertised.listeners=PLAINTEXT://{ports.HOST}:{broker}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data / 'log'}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.flush.interval.messages=1",  # a SIGKILLed broker loses nothing it acknowledged (reliability test)
            "",
        ]))
        (data / "log4j2.properties").write_text(LOG4J2)
        if (data / "log" / "meta.properties").exists():
            return
        proc.run(java_command("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id()}",
                              f"--config={self._config()}"))

    def processes(self) -> list[proc.ProcSpec]:
        command = java_command("kafka.Kafka", str(self._config()), heap="768m")
        command[1:1] = ["-XX:+UseG1GC", "-Djava.awt.headless=true"]
        return [proc.ProcSpec(name="kafka", argv=command, stop_timeout=40)]

    def health(self) -> str | None:
        reason = super().health()
        if reason:
            return reason
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": bootstrap()}).list_topics(timeout=3)
        except Exception as error:
            return f"metadata request failed: {error}"
        return None

    def provision(self) -> None:
        from local import contract

        create_topics({name: (t["partitions"], t["retention_ms"]) for name, t in contract.load().topics.items()})

    def endpoint(self) -> Endpoint:
        return Endpoint(url=f"kafka://{bootstrap()}", login="PLAINTEXT (loopback only)")


def create_topics(topics: dict[str, tuple[int, int]]) -> None:
    """Create missing topics {name: (partitions, retention_ms)}; existing ones are left as they are."""
    from confluent_kafka.admin import AdminClient, NewTopic

    if not topics:
        return
    admin = AdminClient({"bootstrap.servers": bootstrap()})
    existing = set(admin.list_topics(timeout=10).topics)
    new = [NewTopic(name, num_partitions=parts, replication_factor=1, config={"retention.ms": str(retention)})
           for name, (parts, retention) in sorted(topics.items()) if name not in existing]
    for name, future in admin.create_topics(new).items() if new else []:
        try:
            future.result(timeout=30)
        except Exception as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise ServiceError(f"kafka: creating topic {name} failed: {error}") from error
