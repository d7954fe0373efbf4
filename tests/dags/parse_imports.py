"""Which top-level modules parsing each DAG file imports, measured the way the platform's dag-processor parses.

Run as a script (a fresh interpreter, so the test process's own imports don't hide anything): the parent imports what
the dag-processor has imported before it parses (the task SDK and, with --warm, the platform's `warm_dag_parser()` of
local_settings/airflow_local_settings.py), then forks one child per DAG file, as the dag-processor does; each child
executes the file and reports the top-level module names that were not loaded in the parent. Prints JSON
{file: [module, ...]}.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path


def _new_modules_when_parsing(path: Path, loaded: set[str]) -> list[str]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse one file, report, exit without running the parent's cleanup
        os.close(read)
        try:
            spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
            assert spec and spec.loader
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        except BaseException as error:  # noqa: BLE001 - an import error is reported, not raised, like the dag-processor
            os.write(write, json.dumps({"error": repr(error)}).encode())
            os._exit(0)
        new = sorted({name.split(".")[0] for name in sys.modules} - loaded)
        os.write(write, json.dumps(new).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", action="store_true", help="run the platform's warm_dag_parser() in the parent first")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(repo / "dags"), str(repo / "local_settings")]
    import airflow.sdk  # noqa: F401 - the dag-processor has the task SDK loaded before it parses anything

    if args.warm:
        import airflow_local_settings

        airflow_local_settings.warm_dag_parser()
    loaded = {name.split(".")[0] for name in sys.modules}
    print(json.dumps({str(path): _new_modules_when_parsing(path, loaded) for path in args.files}))


if __name__ == "__main__":
    main()
