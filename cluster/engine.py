"""The real Pulumi engine on this repository's program: `pulumi up` / `preview` / `destroy` of a stack against a cluster.

The engine is built from the Go module proxy by `scripts/install/pulumi.sh` (CLI v3.215.0 and the kubernetes
provider, the Node.js language host, TEST providers for random/vault/aws/docker-build, and Node.js 22) into
`${AIRFLOW_PLATFORM_TOOLS:-~/.cache/airflow-platform/tools}/pulumi/<cli>-k8s-<provider>/bin/` (override with
`PULUMI_BIN_DIR`; node with `PULUMI_NODE_DIR`). Those directories go first on PATH for the engine's processes only:
the engine finds the plugins there as ambient plugins (`PULUMI_IGNORE_AMBIENT_PLUGINS` is removed from the env).

A run never touches the clone. Everything lives in one work directory (default `.local/engine/<stack>/`):

    <workdir>/project/     a copy of the project: Pulumi.yaml and the stack file copied, every other top-level
                           entry of the repo (index.ts, components/, node_modules, ...) symlinked, so `pulumi up`
                           runs the real index.ts
    <workdir>/state/       the local file backend (`pulumi login file://<workdir>/state`)
    <workdir>/home/        PULUMI_HOME (credentials of that login, plugin cache: nothing from ~/.pulumi)
    <workdir>/passphrase   PULUMI_CONFIG_PASSPHRASE, generated, mode 0600
    <workdir>/secrets.json the test values given to the stack file's `secure:` placeholders, mode 0600, reused so
                           a second run is a no-op
    <workdir>/logs/        one log per engine command

    .venv/bin/python -m cluster.engine up --stack dev --kubeconfig .local/cluster/kubeconfig
        # up (--skip-preview unless --preview), then `preview --expect-no-changes` and a second
        # `up --expect-no-changes` whose random secrets must equal the first's
    .venv/bin/python -m cluster.engine preview --stack dev --kubeconfig ...
    .venv/bin/python -m cluster.engine destroy --stack dev --kubeconfig ...
    .venv/bin/python -m cluster.engine cycle --stack dev --kubeconfig ...   # up + checks + destroy

Charts: with `--charts-dir DIR` (default: ../shared/charts next to the clone, when it exists) and a stack file
that has the `kubernetes.charts` key, the copy is set to `{source: local, directory: DIR}`; otherwise each chart is
pulled from its repository, which is unreachable from these machines.

What the TEST providers mean for a run: random values are real (crypto/rand, secret, kept in state); the Vault
resources (mount, policies, auth backend and roles, KV secrets) are only recorded in Pulumi state, no Vault API is
called; aws and docker-build resources are rejected (the dev stack has none).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cluster.paths import REPO, charts_dir, tools_root

INSTALL_SCRIPT = REPO / "scripts" / "install" / "pulumi.sh"
NODE_INSTALL_SCRIPT = REPO / "scripts" / "install" / "node.sh"
DEFAULT_CHARTS_DIR = charts_dir() or REPO.parent / "shared" / "charts"
PROJECT_NAME_FILE = "Pulumi.yaml"
# Top-level entries of the repo not linked into the project copy (state, caches, other stacks' files).
NOT_LINKED = frozenset({".git", ".local", ".venv", "out", ".pytest_cache", ".ruff_cache", "__pycache__", "coverage"})
ENGINE_BINARIES = (
    "pulumi",
    "pulumi-language-nodejs",
    "pulumi-resource-kubernetes",
    "pulumi-resource-random",
    "pulumi-resource-vault",
    "pulumi-resource-aws",
    "pulumi-resource-docker-build",
)
# Random resources whose outputs are secrets that must stay stable across updates.
RANDOM_SECRET_OUTPUTS = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "random:index/randomBytes:RandomBytes": ("base64", "hex"),
}
SECRET_SIG = "4dabf18193072939515e22adb298388d"
DEFAULT_TIMEOUT = 3600.0


class EngineError(RuntimeError):
    """An engine command failed; the message names it and ends with the tail of its output."""


# ---------------------------------------------------------------------------------------------------- toolchain


def pinned_versions() -> dict[str, str]:
    """CLI_VERSION, K8S_VERSION, LANGHOST_VERSION as pinned in scripts/install/pulumi.sh, NODE_VERSION as in
    scripts/install/node.sh (the project's own Node, which pulumi.sh installs too)."""
    text = INSTALL_SCRIPT.read_text() + "\n" + NODE_INSTALL_SCRIPT.read_text()
    found = dict(re.findall(r"^([A-Z0-9_]+_VERSION)=(\S+)$", text, re.MULTILINE))
    missing = [k for k in ("CLI_VERSION", "K8S_VERSION", "NODE_VERSION") if k not in found]
    if missing:
        raise EngineError(f"{INSTALL_SCRIPT} does not pin {', '.join(missing)}")
    return found


@dataclass(frozen=True)
class Toolchain:
    """Where the engine's binaries and node are."""

    bin_dir: Path
    node_dir: Path

    def missing(self) -> list[str]:
        """Binaries not built yet (empty when the engine is complete)."""
        absent = [name for name in ENGINE_BINARIES if not os.access(self.bin_dir / name, os.X_OK)]
        if not os.access(self.node_dir / "bin" / "node", os.X_OK):
            absent.append(f"node ({self.node_dir})")
        return absent

    @property
    def pulumi(self) -> Path:
        return self.bin_dir / "pulumi"

    def path_env(self, base: str | None = None) -> str:
        """PATH with the engine's bin dir and node first."""
        rest = base if base is not None else os.environ.get("PATH", "")
        return os.pathsep.join([str(self.bin_dir), str(self.node_dir / "bin"), rest])


def toolchain() -> Toolchain:
    """The pinned toolchain (`PULUMI_BIN_DIR` / `PULUMI_NODE_DIR` override the cache locations)."""
    versions = pinned_versions()
    root = tools_root()
    bin_raw = os.environ.get("PULUMI_BIN_DIR")
    node_raw = os.environ.get("PULUMI_NODE_DIR")
    bin_dir = (
        Path(bin_raw)
        if bin_raw
        else root / "pulumi" / f"{versions['CLI_VERSION']}-k8s-{versions['K8S_VERSION']}" / "bin"
    )
    node_dir = Path(node_raw) if node_raw else root / "node" / versions["NODE_VERSION"]
    return Toolchain(bin_dir=bin_dir, node_dir=node_dir)


def missing_binaries() -> list[str]:
    """What `bash scripts/install/pulumi.sh` still has to build (empty when the engine can run)."""
    return toolchain().missing()


def cli_version(tools: Toolchain | None = None) -> str:
    """`pulumi version` of the built CLI, e.g. v3.215.0."""
    tools = tools or toolchain()
    out = subprocess.run([str(tools.pulumi), "version"], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


# ---------------------------------------------------------------------------------------------------- workspace


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600 before any content is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


@dataclass
class Result:
    """One engine command: its exit status, wall time, the change counts it printed and its log."""

    command: str
    returncode: int
    seconds: float
    output: str
    log: Path
    changes: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def changed_resources(self) -> list[str]:
        """The steps a preview/update printed that change something: "<op> <type> <name>" (op update, replace, ...)."""
        return changed_resources(self.output)


_CHANGE_LINE = re.compile(
    r"^\s*(?:[+~\-]+|\+-)?\s*(\d+) (created|updated|deleted|replaced|unchanged|to create|to update|to delete|to replace)\b"
)


_STEP_LINE = re.compile(
    r"^\s*(?:[+~\-]+)\s+(\S+:\S+)\s+(\S+)\s+(update|replace|create replacement|delete original|create|delete|updated|replaced|created|deleted)\b"
)


_PRESENT = {"updated": "update", "replaced": "replace", "created": "create", "deleted": "delete"}


def changed_resources(output: str) -> list[str]:
    """The resources a preview/update shows with a change, as "<op> <type> <name>", without duplicates."""
    found: list[str] = []
    for line in output.splitlines():
        match = _STEP_LINE.match(line)
        if match and match.group(1) != "pulumi:pulumi:Stack":
            entry = f"{match.group(3)} {match.group(1)} {match.group(2)}"
            if entry not in found:
                found.append(entry)
    return found


def parse_changes(output: str) -> dict[str, int]:
    """The `Resources:` summary of a pulumi command, e.g. {"created": 120, "unchanged": 1}."""
    changes: dict[str, int] = {}
    in_summary = False
    for line in output.splitlines():
        if line.strip() == "Resources:":
            in_summary, changes = True, {}
            continue
        if in_summary:
            match = _CHANGE_LINE.match(line)
            if match:
                changes[match.group(2).removeprefix("to ")] = int(match.group(1))
            elif line.strip():
                in_summary = False
    return changes


@dataclass
class Workspace:
    """A project directory plus its own backend, PULUMI_HOME, passphrase and kubeconfig."""

    root: Path
    project: Path
    stack: str
    kubeconfig: Path | None = None
    tools: Toolchain = field(default_factory=toolchain)
    transpile_only: bool = True
    quiet: bool = False
    # Write the checkpoint once per command, not after every step: the file backend rewrites the whole state
    # (300+ resources) per step, which dominated the CLI's CPU time here. A crashed run may then lose its state.
    skip_checkpoints: bool = True
    _runs: int = field(default=0, repr=False)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def passphrase_file(self) -> Path:
        return self.root / "passphrase"

    def passphrase(self) -> str:
        """The config passphrase of this workspace, generated (0600) on first use."""
        if not self.passphrase_file.exists():
            _write_private(self.passphrase_file, secrets.token_urlsafe(32))
        return self.passphrase_file.read_text().strip()

    def env(self) -> dict[str, str]:
        """The engine's environment: toolchain first on PATH, isolated PULUMI_HOME, file backend, kubeconfig."""
        env = dict(os.environ)
        env.pop("PULUMI_IGNORE_AMBIENT_PLUGINS", None)  # the engine must find the built plugins on PATH
        env.pop("PULUMI_ACCESS_TOKEN", None)
        env.update(
            {
                "PATH": self.tools.path_env(env.get("PATH", "")),
                "PULUMI_HOME": str(self.home),
                "PULUMI_BACKEND_URL": f"file://{self.state_dir}",
                "PULUMI_CONFIG_PASSPHRASE": self.passphrase(),
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_SKIP_CONFIRMATIONS": "true",
                "NO_COLOR": "1",
            }
        )
        if self.transpile_only:
            # Type-checking is `tsc --noEmit` (npm run build), its own CI step; ts-node only transpiles here.
            env["PULUMI_NODEJS_TRANSPILE_ONLY"] = "true"
        if self.skip_checkpoints:
            env["PULUMI_SKIP_CHECKPOINTS"] = "true"
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def run(
        self,
        *args: str,
        check: bool = True,
        stream: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        stdin: str | None = None,
    ) -> Result:
        """Run `pulumi <args> --cwd <project>`; stream=True echoes its output live (and logs it either way)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        name = "-".join(a for a in args[:2] if re.fullmatch(r"[a-z][a-z-]*", a)) or "pulumi"
        self._runs += 1
        log = self.logs / f"{time.strftime('%H%M%S')}-{self._runs:03d}-{name}.log"
        argv = [str(self.tools.pulumi), *args, "--cwd", str(self.project), "--non-interactive"]
        began = time.monotonic()
        lines: list[str] = []
        with log.open("w") as fh:
            fh.write("$ " + " ".join(argv) + "\n")
            proc = subprocess.Popen(
                argv,
                cwd=self.project,
                env=self.env(),
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            if stdin is not None and proc.stdin is not None:
                proc.stdin.write(stdin)
                proc.stdin.close()
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    lines.append(line)
                    fh.write(line)
                    if stream and not self.quiet:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                    if time.monotonic() - began > timeout:
                        proc.kill()
                        raise EngineError(f"pulumi {' '.join(args)} timed out after {timeout:.0f}s (log: {log})")
                returncode = proc.wait()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        output = "".join(lines)
        result = Result(
            command=" ".join(args),
            returncode=returncode,
            seconds=time.monotonic() - began,
            output=output,
            log=log,
            changes=parse_changes(output),
        )
        if check and not result.ok:
            tail = "\n".join(output.splitlines()[-40:])
            raise EngineError(f"pulumi {' '.join(args)} failed (exit {returncode}, log {log}):\n{tail}")
        return result

    def json(self, *args: str) -> Any:
        """Run a pulumi command that prints JSON (quietly) and parse its output."""
        argv = [str(self.tools.pulumi), *args, "--cwd", str(self.project), "--non-interactive"]
        proc = subprocess.run(argv, cwd=self.project, env=self.env(), capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise EngineError(
                f"pulumi {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}{proc.stdout[-2000:]}"
            )
        return json.loads(proc.stdout)

    # ---------------------------------------------------------------------------------------------- stack set-up

    def login(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.run("login", f"file://{self.state_dir}")

    def stack_exists(self) -> bool:
        stacks = self.json("stack", "ls", "--json")
        return any(s.get("name") in (self.stack, f"organization/{self.project_name()}/{self.stack}") for s in stacks)

    def project_name(self) -> str:
        data = yaml.safe_load((self.project / PROJECT_NAME_FILE).read_text())
        return str(data["name"])

    def select_stack(self) -> None:
        """Log in, then select the stack (created with the passphrase secrets provider on first use)."""
        self.login()
        if self.stack_exists():
            self.run("stack", "select", self.stack)
        else:
            self.run("stack", "init", self.stack, "--secrets-provider", "passphrase")

    def set_config(self, key: str, value: str, *, secret: bool = False, path: bool = False) -> None:
        """`pulumi config set` on the stack file of this workspace (the value goes through stdin, not argv)."""
        args = ["config", "set", key, "--stack", self.stack]
        if secret:
            args.append("--secret")
        if path:
            args.append("--path")
        self.run(*args, stdin=value)

    # --------------------------------------------------------------------------------------------- engine commands

    def up(self, *, preview: bool = False, expect_no_changes: bool = False) -> Result:
        args = ["up", "--yes", "--stack", self.stack, "--color", "never", "--diff=false"]
        if not preview:
            args.append("--skip-preview")
        if expect_no_changes:
            args.append("--expect-no-changes")
        return self.run(*args, stream=True)

    def preview(self, *, expect_no_changes: bool = False, check: bool = True) -> Result:
        args = ["preview", "--stack", self.stack, "--color", "never"]
        if expect_no_changes:
            args.append("--expect-no-changes")
        return self.run(*args, stream=True, check=check)

    def destroy(self) -> Result:
        return self.run("destroy", "--yes", "--skip-preview", "--stack", self.stack, "--color", "never", stream=True)

    def export(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """`pulumi stack export` (the checkpoint: secrets stay ciphertext unless show_secrets)."""
        args = ["stack", "export", "--stack", self.stack]
        if show_secrets:
            args.append("--show-secrets")
        data: dict[str, Any] = self.json(*args)
        return data

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json", "--stack", self.stack]
        if show_secrets:
            args.append("--show-secrets")
        data: dict[str, Any] = self.json(*args)
        return data


# ------------------------------------------------------------------------------------------------ state reading


def resources(export: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of an exported checkpoint."""
    deployment = export.get("deployment") or {}
    return list(deployment.get("resources") or [])


@dataclass(frozen=True)
class Counts:
    """What a checkpoint holds: custom resources (by package), components, providers."""

    total: int
    custom: int
    components: int
    providers: int
    by_package: dict[str, int]
    by_type: dict[str, int]

    def describe(self) -> str:
        packages = ", ".join(f"{pkg} {n}" for pkg, n in sorted(self.by_package.items()))
        return f"{self.total} resources: {self.custom} custom ({packages}), {self.components} components, {self.providers} providers"


def count(export: Mapping[str, Any]) -> Counts:
    """Count the resources of an exported checkpoint."""
    custom = components = providers = 0
    by_package: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    for res in resources(export):
        rtype = str(res.get("type", ""))
        if rtype.startswith("pulumi:providers:"):
            providers += 1
        elif res.get("custom"):
            custom += 1
            by_package[rtype.split(":", 1)[0]] += 1
            by_type[rtype] += 1
        else:
            components += 1
    total = custom + components + providers
    return Counts(total, custom, components, providers, dict(by_package), dict(by_type))


def _plain(value: Any) -> Any:
    """A checkpoint value with --show-secrets, secret wrappers replaced by their plaintext."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            if "plaintext" in value:
                return json.loads(value["plaintext"])
            return value  # ciphertext: no plaintext to compare
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def secret_fingerprints(export: Mapping[str, Any]) -> dict[str, str]:
    """sha256 of each random resource's secret outputs, by URN (from an export with show_secrets)."""
    prints: dict[str, str] = {}
    for res in resources(export):
        keys = RANDOM_SECRET_OUTPUTS.get(str(res.get("type")))
        if not keys:
            continue
        outputs = _plain(res.get("outputs") or {})
        material = json.dumps({k: outputs.get(k) for k in keys}, sort_keys=True)
        prints[str(res["urn"])] = hashlib.sha256(material.encode()).hexdigest()
    return prints


# -------------------------------------------------------------------------------------------- the repo's project


def secure_placeholders(stack_config: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(config key, needs --path) of every `secure:` value in a stack file's `config:`."""
    found: list[tuple[str, bool]] = []

    def walk(value: Any, key: str, nested: bool) -> None:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                found.append((key, nested))
                return
            for k, v in value.items():
                walk(v, f"{key}.{k}", True)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]", True)

    for key, value in (stack_config.get("config") or {}).items():
        walk(value, str(key), False)
    return found


def fake_secret_value(key: str) -> str:
    """A clearly fake value for a secret config key (URL-shaped for URL keys)."""
    leaf = re.split(r"[:.\[]", key)[-1].rstrip("]")
    token = secrets.token_hex(12)
    if leaf.lower().endswith("url"):
        return f"https://hooks.example.invalid/airflow-platform-test/{token}"
    if "ssh" in leaf.lower():
        return f"-----BEGIN OPENSSH PRIVATE KEY-----\ntest-{token}\n-----END OPENSSH PRIVATE KEY-----\n"
    return f"test-{leaf}-{token}"


def link_project(project: Path, stack: str, repo: Path = REPO) -> None:
    """(Re)build the project copy: Pulumi.yaml copied, every other top-level entry symlinked (no stack files)."""
    project.mkdir(parents=True, exist_ok=True)
    for entry in repo.iterdir():
        name = entry.name
        if name in NOT_LINKED or (name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))):
            continue
        target = project / name
        if target.is_symlink() and Path(os.readlink(target)) == entry:
            continue
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        target.symlink_to(entry)
    shutil.copyfile(repo / PROJECT_NAME_FILE, project / PROJECT_NAME_FILE)
    for stale in project.iterdir():
        if stale.is_symlink() and not stale.exists():
            stale.unlink()


def write_stack_file(project: Path, stack: str, repo: Path = REPO) -> dict[str, Any]:
    """Copy Pulumi.<stack>.yaml into the project, keeping the encryption salt an earlier run wrote there."""
    source = repo / f"Pulumi.{stack}.yaml"
    if not source.exists():
        raise EngineError(f"no stack file {source}")
    target = project / f"Pulumi.{stack}.yaml"
    salt = None
    if target.exists():
        salt = (yaml.safe_load(target.read_text()) or {}).get("encryptionsalt")
    text = source.read_text()
    if salt:
        text = f"encryptionsalt: {salt}\n" + text
    target.write_text(text)
    data: dict[str, Any] = yaml.safe_load(source.read_text()) or {}
    return data


def charts_configurable(stack_config: Mapping[str, Any], namespace: str) -> bool:
    """Whether the stack file has the `kubernetes.charts` setting (chart source: repository or local)."""
    kube = (stack_config.get("config") or {}).get(f"{namespace}:kubernetes") or {}
    return isinstance(kube, dict) and "charts" in kube


def prepare(
    stack: str,
    workdir: Path,
    *,
    kubeconfig: Path | None,
    charts_dir: Path | None = DEFAULT_CHARTS_DIR,
    transpile_only: bool = True,
    quiet: bool = False,
) -> Workspace:
    """Set up (or refresh) the work directory of `stack`: project copy, backend, stack, test secrets, chart source."""
    workdir = workdir.resolve()
    project = workdir / "project"
    tools = toolchain()
    missing = tools.missing()
    if missing:
        raise EngineError(f"engine binaries missing ({', '.join(missing)}): run `bash scripts/install/pulumi.sh`")
    link_project(project, stack)
    stack_config = write_stack_file(project, stack)
    ws = Workspace(
        root=workdir,
        project=project,
        stack=stack,
        kubeconfig=kubeconfig,
        tools=tools,
        transpile_only=transpile_only,
        quiet=quiet,
    )
    ws.select_stack()

    values_file = workdir / "secrets.json"
    values: dict[str, str] = json.loads(values_file.read_text()) if values_file.exists() else {}
    placeholders = secure_placeholders(stack_config)
    for key, _nested in placeholders:
        values.setdefault(key, fake_secret_value(key))
    _write_private(values_file, json.dumps(values, indent=2))
    for key, nested in placeholders:
        ws.set_config(key, values[key], secret=True, path=nested)

    namespace = ws.project_name()
    if charts_dir is not None and charts_dir.is_dir() and charts_configurable(stack_config, namespace):
        ws.set_config(f"{namespace}:kubernetes.charts.source", "local", path=True)
        ws.set_config(f"{namespace}:kubernetes.charts.directory", str(charts_dir.resolve()), path=True)
    return ws


def default_workdir(stack: str) -> Path:
    return REPO / ".local" / "engine" / stack


# ---------------------------------------------------------------------------------------------------- reporting


@dataclass
class Report:
    """What one CLI invocation did, phase by phase."""

    phases: list[tuple[str, float, str]] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    # Resources that changed when nothing should have ("update <type> <name>"), from the idempotency checks.
    unstable: list[str] = field(default_factory=list)

    def add(self, name: str, seconds: float, detail: str) -> None:
        self.phases.append((name, seconds, detail))
        print(f"engine: {name}: {seconds:.1f}s: {detail}", flush=True)

    def summary(self) -> str:
        lines = ["engine summary:"]
        lines += [f"  {name:<28} {seconds:7.1f}s  {detail}" for name, seconds, detail in self.phases]
        total = sum(s for _, s, _ in self.phases)
        lines.append(f"  {'total':<28} {total:7.1f}s")
        lines += [f"  ISSUE: {issue}" for issue in self.issues]
        return "\n".join(lines)


@contextlib.contextmanager
def _timed() -> Iterator[list[float]]:
    box: list[float] = []
    began = time.monotonic()
    try:
        yield box
    finally:
        box.append(time.monotonic() - began)


def _describe_changes(changes: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in changes.items()) or "no summary"


def do_up(ws: Workspace, report: Report, *, preview_first: bool = False, second_up: bool = True) -> Counts:
    """up, then the idempotency checks: `preview --expect-no-changes`, and a second up whose random secrets must be
    unchanged. A check that fails is recorded in report.issues (the run goes on, so destroy still follows)."""
    result = ws.up(preview=preview_first)
    counts = count(ws.export())
    report.add("up", result.seconds, f"{_describe_changes(result.changes)}; state: {counts.describe()}")
    before = secret_fingerprints(ws.export(show_secrets=True))

    check = ws.preview(expect_no_changes=True, check=False)
    changed = check.changed_resources()
    report.add("preview --expect-no-changes", check.seconds, _describe_changes(check.changes))
    report.unstable += [c for c in changed if c not in report.unstable]
    if not check.ok:
        detail = "; ".join(changed) if changed else (check.output.strip().splitlines() or ["?"])[-1]
        report.issues.append(f"not idempotent: preview right after up proposes changes: {detail} (log {check.log})")
    if second_up:
        again = ws.up(expect_no_changes=not changed)
        after = secret_fingerprints(ws.export(show_secrets=True))
        rotated = sorted(urn for urn in before if after.get(urn) != before[urn])
        if rotated:
            report.issues.append(f"random secrets changed on the second up: {rotated}")
        report.add(
            "second up" + ("" if changed else " --expect-no-changes"),
            again.seconds,
            f"{_describe_changes(again.changes)}; {len(before) - len(rotated)}/{len(before)} random secrets unchanged",
        )
        for step in again.changed_resources():
            op, rest = step.split(" ", 1)
            entry = f"{_PRESENT.get(op, op)} {rest}"
            if entry not in report.unstable:
                report.unstable.append(entry)
        if changed and again.changes.keys() - {"unchanged"}:
            report.issues.append(
                f"the second up changed again (perpetual diff): {'; '.join(again.changed_resources())}"
            )
    return counts


# The CLI lists each violation as `- [mandatory]  <policy-name>  (<type>: <name>)` under the pack's name.
POLICY_VIOLATION = re.compile(r"\[(mandatory|advisory)\]\s+([a-z][a-z0-9-]+)")


def do_policy_preview(ws: Workspace) -> tuple[Result, dict[str, str]]:
    """`pulumi preview --policy-pack policy`: the platform's rules (policy/) judge what the stack would apply, live.

    Returns the run and each violated policy with its enforcement level (a mandatory one fails the preview).
    """
    result = ws.run("preview", "--policy-pack", str(ws.project / "policy"), "--stack", ws.stack, check=False)
    violated = {name: level for level, name in POLICY_VIOLATION.findall(result.output)}
    return result, violated


def do_destroy(ws: Workspace, report: Report) -> Counts:
    result = ws.destroy()
    counts = count(ws.export())
    report.add("destroy", result.seconds, f"{_describe_changes(result.changes)}; state left: {counts.total} resources")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "preview", "destroy", "cycle", "version"])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig of the target cluster (KUBECONFIG of the engine)")
    parser.add_argument("--workdir", type=Path, help="work directory (default .local/engine/<stack>)")
    parser.add_argument(
        "--charts-dir",
        type=Path,
        default=DEFAULT_CHARTS_DIR,
        help="folder of chart tarballs (kubernetes.charts: local)",
    )
    parser.add_argument(
        "--charts-from-repository", action="store_true", help="leave kubernetes.charts as the stack file says"
    )
    parser.add_argument("--preview", action="store_true", help="up: run the preview step too (default --skip-preview)")
    parser.add_argument("--no-second-up", action="store_true", help="up: skip the second `up --expect-no-changes`")
    parser.add_argument("--typecheck", action="store_true", help="let ts-node type-check the program (slower)")
    args = parser.parse_args(argv)

    if args.command == "version":
        print(cli_version())
        return 0
    if args.kubeconfig is None:
        parser.error("--kubeconfig is required")
    kubeconfig = args.kubeconfig.resolve()
    if not kubeconfig.exists():
        parser.error(f"no kubeconfig at {kubeconfig}")
    workdir = args.workdir or default_workdir(args.stack)
    report = Report()
    with _timed() as took:
        ws = prepare(
            args.stack,
            workdir,
            kubeconfig=kubeconfig,
            charts_dir=None if args.charts_from_repository else args.charts_dir,
            transpile_only=not args.typecheck,
        )
    report.add("prepare", took[0], f"{cli_version(ws.tools)}, workdir {ws.root}")
    try:
        if args.command == "preview":
            result = ws.preview()
            report.add("preview", result.seconds, _describe_changes(result.changes))
        elif args.command == "up":
            do_up(ws, report, preview_first=args.preview, second_up=not args.no_second_up)
        elif args.command == "destroy":
            do_destroy(ws, report)
        else:
            do_up(ws, report, preview_first=args.preview, second_up=not args.no_second_up)
            do_destroy(ws, report)
    except EngineError as exc:
        print(report.summary())
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 1 if report.issues else 0


if __name__ == "__main__":
    sys.exit(main())
