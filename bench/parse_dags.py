"""DAG parse cost: every file under dags/ against the example DAGs bundled with Airflow, parsed the same way in one run.

The dag-processor forks a fresh child per file from a parent that already imported Airflow, so this does the same:
the parent imports the dag-processor's own modules once and freezes the GC (as DagFileProcessorManager does, to avoid
copy-on-write), and before each fork pre-imports the Airflow modules the file imports
(`[dag_processor] parsing_pre_import_modules`); the child parses the one file with DagBag and reports the time.
Files of both groups are interleaved within each round so machine noise hits both alike.

`--parser platform` (the default) is the dag-processor this platform deploys: its `airflow_local_settings`
(local_settings/) warms the parser in the parent. `--parser stock` is a dag-processor without it, to show what it is
worth. Both groups get the same parser, and DAG files are byte-compiled ahead in both, as the image build does.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"


@dataclass
class FileTiming:
    group: str
    path: Path
    seconds: list[float]
    dags: int
    errors: int
    imported: list[str]
    tasks: int = 0
    fork_seconds: list[float] = field(default_factory=list)  # the parent's side of each of this file's parses

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
    # The deployed dag-processor's DAG folder (its one default bundle): where the platform preloads the shared library.
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{os.environ['AIRFLOW_HOME']}/airflow.db")


def _example_dags() -> Path:
    import airflow

    return Path(airflow.__file__).parent / "example_dags"


def dag_files(folder: Path) -> list[Path]:
    """The files the dag-processor would parse in `folder`: Airflow's own listing, which honours `.airflowignore`
    (dags/.airflowignore leaves out the shared library `common/`) and skips files without "dag" and "airflow"."""
    from airflow.utils.file import list_py_file_paths

    return sorted(Path(path) for path in list_py_file_paths(str(folder)))


def _pre_import(path: Path) -> None:
    """What the dag-processor does in the parent before forking a file's parser."""
    import contextlib
    import importlib

    from airflow.utils.file import iter_airflow_imports

    for module in iter_airflow_imports(str(path)):
        with contextlib.suppress(Exception):  # the child reports the real import error
            importlib.import_module(module)


@dataclass
class ParseResult:
    seconds: float
    dags: int
    errors: int
    tasks: int
    imported: list[str]  # modules the child imported beyond what its parent had: the file's own parse-time imports
    fork_seconds: float = 0.0  # os.fork() in the parent, with the before-fork hooks the parser set-up registered


def _parse_in_fork(path: Path, bundle: Path) -> ParseResult:
    """Fork, parse one file with DagBag in the child, report the time, DAGs, import errors and new modules."""
    _pre_import(path)
    read_fd, write_fd = os.pipe()
    forking = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            from airflow.dag_processing.dagbag import DagBag

            before = set(sys.modules)
            started = time.perf_counter()
            bag = DagBag(dag_folder=str(path), bundle_path=bundle)
            elapsed = time.perf_counter() - started
            # The DAG file itself is loaded under a generated name ("unusual_prefix_<hash>_<file>"): not an import.
            imported = sorted(m for m in set(sys.modules) - before if not m.startswith("unusual_prefix_"))
            tasks = sum(len(dag.tasks) for dag in bag.dags.values())
            payload = json.dumps([elapsed, len(bag.dags), len(bag.import_errors), imported, tasks])
        except BaseException as exc:  # report, never hang the parent
            payload = json.dumps([0.0, 0, 1, [], 0, repr(exc)])
        os.write(write_fd, payload.encode())
        os.close(write_fd)
        os._exit(0)
    fork_seconds = time.perf_counter() - forking
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        data = json.loads(reader.read() or "[0, 0, 1, [], 0]")
    os.waitpid(pid, 0)
    return ParseResult(float(data[0]), int(data[1]), int(data[2]), int(data[4]), list(data[3]), fork_seconds)


def _byte_compile(folders: list[Path]) -> None:
    """What the image build does for the baked-in dags/ (and pip does for site-packages): parse children load .pyc."""
    import compileall

    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1, workers=1)


def measure(rounds: int, parser: str = "platform", include_examples: bool = True) -> list[FileTiming]:
    _prepare_environment(parser)
    examples = _example_dags()
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

    ours = [FileTiming("ours", p, [], 0, 0, []) for p in dag_files(DAGS)]
    theirs = [FileTiming("examples", p, [], 0, 0, []) for p in dag_files(examples)] if include_examples else []
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
            result = _parse_in_fork(timing.path, bundle)
            timing.fork_seconds.append(result.fork_seconds)
            timing.seconds.append(result.seconds)
            timing.dags, timing.errors, timing.imported, timing.tasks = (
                result.dags,
                result.errors,
                result.imported,
                result.tasks,
            )
        print(
            f"round {round_no}/{rounds}: {len(interleaved)} files in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
    return ours + theirs


SHARED_LIBRARY = "common"


def third_party_parse_imports(timings: list[FileTiming]) -> dict[str, list[str]]:
    """Our files whose parse imported anything beyond the shared DAG library: the imports to move into a task."""
    return {
        str(t.path.relative_to(REPO)): [m for m in t.imported if m.split(".")[0] != SHARED_LIBRARY]
        for t in timings
        if t.group == "ours" and any(m.split(".")[0] != SHARED_LIBRARY for m in t.imported)
    }


def summarise(timings: list[FileTiming], parser: str) -> dict[str, Any]:
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
            "tasks_median": statistics.median(t.tasks for t in items),
            "tasks": sum(t.tasks for t in items),
            # DAG-level Params are validated with jsonschema on every parse; a visible share of a file's cost.
            "files_with_params": sum("Param(" in t.path.read_text(encoding="utf-8", errors="replace") for t in items),
            "import_errors": sum(t.errors for t in items),
        }

    summary: dict[str, Any] = {"parser": parser, "ours": stats(groups["ours"])}
    # The parent's side of each parse (the fork and its before-fork hooks): the same for both groups.
    summary["fork_median_ms"] = statistics.median(s for t in timings for s in t.fork_seconds) * 1000
    if groups["examples"]:
        summary["examples"] = stats(groups["examples"])
        summary["ratio_of_medians"] = summary["ours"]["median_ms"] / summary["examples"]["median_ms"]
        # Some bundled example files define no DAG here (plugins, listeners, timetables, DAGs needing `kubernetes`):
        # the dag-processor still parses them, so the headline counts them; this ratio leaves them out.
        defining = [t for t in groups["examples"] if t.dags]
        summary["examples_defining_dags"] = stats(defining)
        summary["ratio_of_medians_dag_files_only"] = (
            summary["ours"]["median_ms"] / summary["examples_defining_dags"]["median_ms"]
        )
        summary["by_task_count"] = by_task_count(groups["ours"], defining)
    slowest = sorted(groups["ours"], key=lambda t: t.median, reverse=True)[:5]
    summary["slowest"] = [{"file": str(t.path.relative_to(REPO)), "median_ms": t.median * 1000} for t in slowest]
    summary["third_party_parse_imports"] = third_party_parse_imports(timings)
    summary["per_file"] = [
        {
            "group": t.group,
            "file": t.path.name if t.group == "examples" else str(t.path.relative_to(REPO)),
            "median_ms": t.median * 1000,
            "runs_ms": [s * 1000 for s in t.seconds],
            "dags": t.dags,
            "tasks": t.tasks,
            "import_errors": t.errors,
            "imported": t.imported,
        }
        for t in timings
    ]
    return summary


TASK_COUNT_BANDS = ((1, 2), (3, 4), (5, 8), (9, 10_000))


def by_task_count(ours: list[FileTiming], examples: list[FileTiming]) -> list[dict[str, Any]]:
    """Median per file for files of the same size (tasks per file), ours against the examples, band by band.

    A file's parse cost grows with what it builds; the headline ratio compares folders whose files differ in size.
    """
    bands = []
    for low, high in TASK_COUNT_BANDS:
        mine = [t.median for t in ours if low <= t.tasks <= high]
        theirs = [t.median for t in examples if low <= t.tasks <= high]
        if mine and theirs:
            bands.append(
                {
                    "tasks": f"{low}–{high}" if high < 10_000 else f"{low}+",
                    "ours_files": len(mine),
                    "ours_median_ms": statistics.median(mine) * 1000,
                    "examples_files": len(theirs),
                    "examples_median_ms": statistics.median(theirs) * 1000,
                    "ratio": statistics.median(mine) / statistics.median(theirs),
                }
            )
    return bands


PARSER_TEXT = {
    "platform": "the dag-processor this platform deploys: its `airflow_local_settings` warms the parent once "
    "(provider asset-URI handlers, `airflow.sdk` attributes, task decorators, message-queue providers, Jinja, "
    "dag-factory, the DAG folder's shared library `dags/common`, re-imported before a fork whenever it changed on "
    "disk, one throw-away DAG, and the ABC subclass-check caches DAG construction hits, kept valid before each "
    "fork) and the DAG files are byte-compiled ahead, as the image build does",
    "stock": "a stock dag-processor: no warm-up in the parent (DAG files byte-compiled all the same)",
}


def to_markdown(summary: dict[str, Any], rounds: int) -> str:
    o = summary["ours"]
    parser = summary["parser"]
    title = (
        "## DAG parse time per file" if parser == "platform" else "### The same without the platform's parser set-up"
    )
    lines = [
        title,
        "",
        f"Parser: {PARSER_TEXT[parser]}. Each file is parsed by `DagBag` in a freshly forked child of a parent that "
        f"already imported the dag-processor's modules (as the dag-processor does), {rounds} rounds, both groups "
        "interleaved. Per-file figure: median over rounds.",
        "",
        "| group | files | DAGs | tasks (median per file) | import errors | median per file | p25–p75 | slowest | total |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [("this repo (dags/)", o)]
    if "examples" in summary:
        rows += [
            ("Airflow example DAG folder", summary["examples"]),
            ("… its files that define a DAG", summary["examples_defining_dags"]),
        ]
    for name, s in rows:
        lines.append(
            f"| {name} | {s['files']} | {s['dags']} | {s['tasks']} ({s['tasks_median']:g}) | {s['import_errors']} | "
            f"{s['median_ms']:.1f} ms | "
            f"{s['p25_ms']:.1f}–{s['p75_ms']:.1f} ms | {s['max_ms']:.1f} ms | {s['total_s']:.2f} s |"
        )
    lines.append("")
    if "examples" in summary:
        lines.append(
            f"**Ratio of medians (ours / example folder): {summary['ratio_of_medians']:.2f}×** (goal ≤ 1.0×); "
            f"against the example files that define a DAG: {summary['ratio_of_medians_dag_files_only']:.2f}×. "
            f"Total for our files: **{o['total_s']:.2f} s** (goal < 2 s)."
        )
    if "examples" in summary:
        e = summary["examples_defining_dags"]
        lines += [
            "",
            f"What a file of ours holds against an example file that defines a DAG: a median of {o['tasks_median']:g} "
            f"tasks against {e['tasks_median']:g}; Params (validated with jsonschema at every parse) in "
            f"{o['files_with_params']} of {o['files']} files against {e['files_with_params']} of {e['files']}; and "
            "`default_args` (owner, retries, timeout, failure alert) merged into every task, which few examples have.",
            "",
            "Files of the same size, ours against the example files that define a DAG:",
            "",
            "| tasks per file | our files | our median | example files | example median | ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {b['tasks']} | {b['ours_files']} | {b['ours_median_ms']:.1f} ms | {b['examples_files']} | "
            f"{b['examples_median_ms']:.1f} ms | {b['ratio']:.2f}× |"
            for b in summary["by_task_count"]
        ]
    lines += [
        "",
        f"Forking a parser (the parent's side, before-fork hooks included): median "
        f"{summary['fork_median_ms']:.2f} ms per file, not in the figures above.",
        "",
        "Slowest of ours: " + ", ".join(f"`{s['file']}` {s['median_ms']:.0f} ms" for s in summary["slowest"]),
        "",
    ]
    heavy = summary["third_party_parse_imports"]
    shown = list(heavy.items())[:5]
    listing = "; ".join(f"`{f}`: {', '.join(m[:4])}{' …' if len(m) > 4 else ''}" for f, m in shown)
    more = f"; and {len(heavy) - len(shown)} more files" if len(heavy) > len(shown) else ""
    lines.append(
        f"Files of ours whose parse imports modules beyond the shared library `common`: {len(heavy)} of {o['files']}"
        + (f" ({listing}{more})." if heavy else ".")
    )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="measurements per file (default 5)")
    parser.add_argument(
        "--parser",
        choices=("platform", "stock"),
        default="platform",
        help="platform: the deployed dag-processor (warm-up in airflow_local_settings); stock: without it "
        "(default platform)",
    )
    parser.add_argument("--only-ours", action="store_true", help="parse dags/ only, no example DAGs (no ratio)")
    parser.add_argument("--json", type=Path, help="write the summary as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the report section here")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    summary = summarise(measure(args.rounds, args.parser, include_examples=not args.only_ours), args.parser)
    markdown = to_markdown(summary, args.rounds)
    print(markdown)
    for target, text in ((args.json, json.dumps(summary, indent=2)), (args.markdown, markdown)):
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
