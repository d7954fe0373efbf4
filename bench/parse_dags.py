"""DAG parse cost: every file under dags/ against the example DAGs bundled with Airflow, parsed the same way in one run.

The dag-processor forks a fresh child per file from a parent that already imported Airflow, so this does the same:
the parent imports the dag-processor's own modules once and freezes the GC (as DagFileProcessorManager does, to avoid
copy-on-write), and before each fork pre-imports the Airflow modules the file imports
(`[dag_processor] parsing_pre_import_modules`); the child parses the one file with DagBag and reports the time.
Files of both groups are interleaved within each round so machine noise hits both alike.

`--parser platform` (the default) is the dag-processor this platform deploys: its `airflow_local_settings`
(local_settings/) warms the parser in the parent, and DAG files are byte-compiled ahead, as the image build does.
`--parser stock` is a dag-processor without either, to show what they are worth. Both groups get the same parser.

    .venv/bin/python bench/parse_dags.py --rounds 5 [--parser platform|stock] [--json F] [--markdown F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"


@dataclass
class FileTiming:
    group: str
    path: Path
    seconds: list[float]
    dags: int
    errors: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


LOCAL_SETTINGS = REPO / "local_settings"


def _prepare_environment(parser: str = "platform") -> None:
    """Environment of the dag-processor being imitated; must run before Airflow is imported."""
    if parser == "platform":
        # Airflow imports airflow_local_settings from sys.path during `import airflow`, as in the deployed image.
        sys.path.insert(0, str(LOCAL_SETTINGS))
        os.environ["AIRFLOW_PLATFORM_WARM_PARSER"] = "true"
    else:
        os.environ.pop("AIRFLOW_PLATFORM_WARM_PARSER", None)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-parse-home-"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db")


def _example_dags() -> Path:
    import airflow

    return Path(airflow.__file__).parent / "example_dags"


def dag_files(folder: Path) -> list[Path]:
    """Python files the dag-processor would consider (it skips files without 'dag' and 'airflow' in them)."""
    files = []
    for path in sorted(folder.rglob("*.py")):
        if path.name == "__init__.py" or "common" in path.relative_to(folder).parts[:1]:
            continue
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        if "dag" in text and "airflow" in text:
            files.append(path)
    return files


def _pre_import(path: Path) -> None:
    """What the dag-processor does in the parent before forking a file's parser."""
    import contextlib
    import importlib

    from airflow.utils.file import iter_airflow_imports

    for module in iter_airflow_imports(str(path)):
        with contextlib.suppress(Exception):  # the child reports the real import error
            importlib.import_module(module)


def _parse_in_fork(path: Path, bundle: Path) -> tuple[float, int, int]:
    """Fork, parse one file with DagBag in the child, return (seconds, dags, import errors)."""
    _pre_import(path)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            from airflow.dag_processing.dagbag import DagBag

            started = time.perf_counter()
            bag = DagBag(dag_folder=str(path), bundle_path=bundle)
            elapsed = time.perf_counter() - started
            payload = json.dumps([elapsed, len(bag.dags), len(bag.import_errors)])
        except BaseException as exc:  # report, never hang the parent
            payload = json.dumps([0.0, 0, 1, repr(exc)])
        os.write(write_fd, payload.encode())
        os.close(write_fd)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        data = json.loads(reader.read() or "[0, 0, 1]")
    os.waitpid(pid, 0)
    return float(data[0]), int(data[1]), int(data[2])


def _byte_compile(folders: list[Path]) -> None:
    """What the image build does for the baked-in dags/ (and pip does for site-packages): parse children load .pyc."""
    import compileall

    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1, workers=1)


def measure(rounds: int, parser: str = "platform") -> list[FileTiming]:
    _prepare_environment(parser)
    examples = _example_dags()
    if parser == "platform":
        _byte_compile([DAGS, examples])
    for folder in (DAGS, examples):
        sys.path.insert(0, str(folder))
    # What the dag-processor parent has already imported before it forks: the CLI command, the manager and the
    # processor (which import DagBag and the serializer). Importing airflow runs airflow_local_settings.
    import gc

    import airflow.cli.commands.dag_processor_command
    import airflow.dag_processing.processor
    import airflow.sdk  # noqa: F401

    gc.freeze()

    ours = [FileTiming("ours", p, [], 0, 0) for p in dag_files(DAGS)]
    theirs = [FileTiming("examples", p, [], 0, 0) for p in dag_files(examples)]
    if not ours:
        raise SystemExit(f"no DAG files found under {DAGS}")
    interleaved: list[tuple[FileTiming, Path]] = []
    for i in range(max(len(ours), len(theirs))):
        if i < len(ours):
            interleaved.append((ours[i], DAGS))
        if i < len(theirs):
            interleaved.append((theirs[i], examples))
    for round_no in range(1, rounds + 1):
        started = time.perf_counter()
        for timing, bundle in interleaved:
            seconds, dags, errors = _parse_in_fork(timing.path, bundle)
            timing.seconds.append(seconds)
            timing.dags, timing.errors = dags, errors
        print(f"round {round_no}/{rounds}: {len(interleaved)} files in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return ours + theirs


def summarise(timings: list[FileTiming]) -> dict[str, object]:
    groups: dict[str, list[FileTiming]] = {"ours": [], "examples": []}
    for t in timings:
        groups[t.group].append(t)

    def stats(items: list[FileTiming]) -> dict[str, float]:
        medians = sorted(t.median for t in items)
        q = statistics.quantiles(medians, n=4) if len(medians) > 1 else [medians[0]] * 3
        return {
            "files": len(items),
            "median_ms": statistics.median(medians) * 1000,
            "p25_ms": q[0] * 1000,
            "p75_ms": q[2] * 1000,
            "max_ms": medians[-1] * 1000,
            "total_s": sum(medians),
            "dags": sum(t.dags for t in items),
            "import_errors": sum(t.errors for t in items),
        }

    ours, theirs = stats(groups["ours"]), stats(groups["examples"])
    slowest = sorted(groups["ours"], key=lambda t: t.median, reverse=True)[:5]
    return {
        "ours": ours,
        "examples": theirs,
        "ratio_of_medians": ours["median_ms"] / theirs["median_ms"],
        "slowest": [{"file": str(t.path.relative_to(REPO)), "median_ms": t.median * 1000} for t in slowest],
        "per_file": [
            {"group": t.group, "file": t.path.name if t.group == "examples" else str(t.path.relative_to(REPO)),
             "median_ms": t.median * 1000, "runs_ms": [s * 1000 for s in t.seconds]}
            for t in timings
        ],
    }


def to_markdown(summary: dict, rounds: int) -> str:
    o, e = summary["ours"], summary["examples"]
    lines = [
        "## DAG parse time per file",
        "",
        f"Each file parsed by `DagBag` in a freshly forked child of a parent that already imported Airflow (as the dag-processor does), {rounds} rounds, both groups interleaved. Per-file figure: median over rounds.",
        "",
        "| group | files | DAGs | import errors | median per file | p25–p75 | slowest | total |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in (("this repo (dags/)", o), ("Airflow example DAGs", e)):
        lines.append(
            f"| {name} | {s['files']} | {s['dags']} | {s['import_errors']} | {s['median_ms']:.1f} ms | "
            f"{s['p25_ms']:.1f}–{s['p75_ms']:.1f} ms | {s['max_ms']:.1f} ms | {s['total_s']:.2f} s |"
        )
    lines += [
        "",
        f"**Ratio of medians (ours / examples): {summary['ratio_of_medians']:.2f}×** (goal ≤ 1.0×); "
        f"total for our files: {o['total_s']:.2f} s (goal < 2 s).",
        "",
        "Slowest of ours: " + ", ".join(f"`{s['file']}` {s['median_ms']:.0f} ms" for s in summary["slowest"]),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="measurements per file (default 5)")
    parser.add_argument(
        "--parser",
        choices=("platform", "stock"),
        default="platform",
        help="platform: the deployed dag-processor (warm-up in airflow_local_settings, byte-compiled DAGs); "
        "stock: neither (default platform)",
    )
    parser.add_argument("--json", type=Path, help="write the summary as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the report section here")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    summary = summarise(measure(args.rounds, args.parser))
    summary["parser"] = args.parser
    markdown = to_markdown(summary, args.rounds)
    print(markdown)
    for target, text in ((args.json, json.dumps(summary, indent=2)), (args.markdown, markdown)):
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
