"""The performance benchmark: generated meshes, govern check and govern audit, against a floor.

    python benchmarks/run.py                      # sizes 1000, 10000, 100000
    python benchmarks/run.py --sizes 1000,10000   # a quicker run

For each size it generates a mesh (govern generate, seed 1) and measures, each in a process of its
own, wall time and the peak resident memory of the largest process:

- ``govern audit`` of the whole mesh (no history store, JSON report to /dev/null), with --jobs N,
  three times: with an empty cache and no mesh index (``cold``, as right after ``govern generate``: it
  fills the cache, see engine/cache.py, and builds the index), then with
  the cache it filled (``warm``: a nightly audit after a day without changes, every product's
  rule results reused, engine/memo.py), then with the rule results dropped from the cache
  (``rules``: the day a rule changed; the files are restored, every product is evaluated);
- ``govern check`` of one product of that mesh (the whole process, start-up included): first with
  an empty cache and without a mesh index (``check cold``: it builds MESH/.govern/index.db), then
  with both (``check``: the median of five runs);
- the floor: the same descriptor and contract files read and parsed (PyYAML's C loader) and the same
  policies evaluated with the raw embedded engine in a minimal loop, over the same number of
  processes (forked after the policies are loaded). So that the rules do the same work, the floor
  evaluates govern's own input document of each product, built before the clock starts (held in
  memory, about 12 KB a product); what it leaves out is what govern adds to parsing and
  evaluating: validating the models, linking the mesh, building documents, findings and the report.

It prints one table: products/s (``p/s``), memory and the ratio of audit time to the floor (``x
floor`` for the cold audit, ``rules x`` and ``warm x`` for the others), plus ``govern check`` of
one demo product. Every command runs with GOVERN_CACHE_DIR in the work folder (the
user's cache is left alone) and with govern's modules compiled to bytecode first, as an installed
package has them. Nothing here is asserted: the numbers are for people to read.
"""

from __future__ import annotations

import argparse
import compileall
import json
import multiprocessing
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from engine.cache import DATABASE
from engine.gather.index import INDEX_PATH
from engine.memo import KIND as RESULTS

REPO = Path(__file__).resolve().parent.parent
GOVERN = [sys.executable, "-m", "engine"]


def measure(argv: list[str], cwd: Path, cache: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB (largest process of the tree) and exit code of one command."""
    env = {**os.environ, "GOVERN_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        err = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, process.returncode


def repeated(argv: list[str], cwd: Path, cache: Path, times: int = 5) -> tuple[float, float]:
    """The median wall seconds of ``times`` runs of a short command (start-up varies by tens of
    milliseconds from run to run), and the largest peak RSS in MiB."""
    runs = [measure(argv, cwd, cache) for _ in range(times)]
    return statistics.median(wall for wall, _, _ in runs), max(mb for _, mb, _ in runs)


# --- the floor -------------------------------------------------------------------------------------

_engine = None
_documents: dict[str, tuple[str, list[str]]] = {}


def _floor_start(policies: list[tuple[str, str]], data: str) -> None:
    global _engine
    import regorus

    _engine = regorus.Engine()
    _engine.set_policy_length_config(max_col=100_000, max_file_bytes=4 * 1024 * 1024, max_lines=100_000)
    for file, source in policies:
        _engine.add_policy(file, source)
    _engine.add_data_json(data)


def _floor_one(folder: str) -> int:
    import yaml

    for path in sorted(Path(folder).iterdir()):
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    document, packages = _documents[folder]
    _engine.set_input_json(document)
    for package in packages:
        try:
            _engine.eval_rule_as_json(f"data.{package}.deny")
        except BaseException:  # noqa: BLE001 - the floor only counts the work
            pass
    return 1


def _input_documents(root: Path) -> tuple[list[tuple[str, str]], str]:
    """govern's input document and rule packages for every product folder below ``root``; the policies and data."""
    global _documents
    sys.path.insert(0, str(REPO))
    from datetime import datetime, timezone

    from engine.backends.embedded import EmbeddedEngine
    from engine.config import load_settings
    from engine.evaluate import Evaluator
    from engine.gather.targets import check_targets
    from engine.governance import load_governance
    from engine.policy.library import load_library

    settings = load_settings(start=root)
    library = load_library(settings.policies)
    governance = load_governance(settings.governance)
    mesh, targets = check_targets([settings.mesh], settings.mesh)
    evaluator = Evaluator(library, governance, EmbeddedEngine(), mesh, datetime.now(timezone.utc))
    for target in targets:
        request = evaluator.request(target)
        if request is not None and target.product is not None:
            _documents[str((Path.cwd() / target.product.doc.file).parent)] = request
    return [(m.file, m.source) for m in library.modules], json.dumps(governance.data())


def floor(root: Path, jobs: int) -> float:
    """Seconds to parse every product folder and evaluate its rules, over ``jobs`` processes."""
    os.chdir(root)
    policies, data = _input_documents(root)
    folders = sorted(_documents)
    started = time.perf_counter()
    if jobs == 1:
        _floor_start(policies, data)
        done = sum(map(_floor_one, folders))
    else:
        with multiprocessing.get_context("fork").Pool(jobs, _floor_start, (policies, data)) as pool:
            done = sum(pool.imap_unordered(_floor_one, folders, chunksize=16))
    assert done == len(folders)
    return time.perf_counter() - started


def _floor_main(mesh: str, jobs: int) -> None:
    print(json.dumps({"seconds": floor(Path(mesh), jobs)}))


# --- the run -----------------------------------------------------------------------------------------


def _fresh(folder: Path) -> Path:
    """An empty folder (a cache that starts cold)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _forget_results(folder: Path) -> None:
    """Drop the stored rule results from a cache, keep the loaded files (as a changed rule does)."""
    with closing(sqlite3.connect(folder / DATABASE)) as db, db:
        db.execute("DELETE FROM entries WHERE kind = ?", (RESULTS,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated product counts")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="processes (default: cores)")
    parser.add_argument("--workdir", type=Path, help="where the meshes go (default: a temporary folder, removed after)")
    parser.add_argument("--floor-only", nargs=2, metavar=("MESH", "JOBS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_only:
        _floor_main(args.floor_only[0], int(args.floor_only[1]))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="govern-bench-"))
    compileall.compile_dir(REPO / "engine", quiet=1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; --jobs {args.jobs}")
    rows = []
    demo = [*GOVERN, "check", "examples/mesh/orders/order_items"]
    demo_cache = _fresh(workdir / "cache-demo")
    measure(demo, REPO, demo_cache)  # brings the demo's index and the cache up to date
    demo_check, _ = repeated(demo, REPO, demo_cache)
    for size in sizes:
        root = workdir / f"mesh-{size}"
        cache = _fresh(workdir / f"cache-{size}")
        if not (root / "govern.toml").exists():
            shutil.rmtree(root, ignore_errors=True)
            generated, _, _ = measure(
                [*GOVERN, "generate", str(root), "--products", str(size), "--domains", "12", "--seed", "1"], REPO, cache
            )
            print(f"generated {size} products in {generated:.1f} s", flush=True)
        audit = [*GOVERN, "audit", "--no-store", "--jobs", str(args.jobs), "--format", "json", "--output", os.devnull]
        (root / "mesh" / INDEX_PATH).unlink(missing_ok=True)  # as right after generate, also in a reused workdir
        cold, cold_mb, _ = measure(audit, root, cache)
        warm, warm_mb, _ = measure(audit, root, cache)
        _forget_results(cache)
        rules, rules_mb, _ = measure(audit, root, cache)
        one = sorted((root / "mesh").rglob("dataproduct.yaml"))[size // 2].parent
        (root / "mesh" / INDEX_PATH).unlink(missing_ok=True)
        check_cold, _, _ = measure([*GOVERN, "check", str(one)], root, _fresh(workdir / f"cache-{size}-check"))
        check, check_mb = repeated([*GOVERN, "check", str(one)], root, workdir / f"cache-{size}-check")
        floor_out = subprocess.run(
            [sys.executable, __file__, "--floor-only", str(root), str(args.jobs)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "GOVERN_CACHE_DIR": "off"},  # preparing the floor's documents is not timed
        )
        floor_s = json.loads(floor_out.stdout)["seconds"]
        rows.append((size, cold, rules, warm, max(cold_mb, rules_mb, warm_mb), floor_s, check_cold, check, check_mb))
        print(f"measured {size}", flush=True)
    print()
    print(
        f"{'products':>8} {'cold s':>7} {'p/s':>5} {'rules s':>7} {'p/s':>5} {'warm s':>7} {'p/s':>5} {'peak MiB':>8} "
        f"{'floor s':>7} {'p/s':>5} {'x floor':>7} {'rules x':>7} {'warm x':>6} "
        f"{'check cold s':>12} {'check s':>7} {'check MiB':>9}"
    )
    for size, cold, rules, warm, mb, floor_s, check_cold, check, check_mb in rows:
        print(
            f"{size:>8} {cold:>7.2f} {size / cold:>5.0f} {rules:>7.2f} {size / rules:>5.0f} {warm:>7.2f} {size / warm:>5.0f} "
            f"{mb:>8.0f} {floor_s:>7.2f} {size / floor_s:>5.0f} {cold / floor_s:>7.2f} {rules / floor_s:>7.2f} "
            f"{warm / floor_s:>6.2f} {check_cold:>12.2f} {check:>7.2f} {check_mb:>9.0f}"
        )
    print(f"govern check of one demo product (examples/mesh/orders/order_items): {demo_check:.2f} s")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
