"""The benchmark script (benchmarks/run.py) runs from a checkout and prints its table: every size
measured, the floor ratios and the demo check. Nothing about the numbers is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import REPO

HEADER = [
    "products", "cold", "s", "p/s", "rules", "s", "p/s", "warm", "s", "p/s", "peak", "MiB", "floor", "s", "p/s",
    "x", "floor", "rules", "x", "warm", "x", "check", "cold", "s", "check", "s", "check", "MiB",
]  # fmt: skip


def test_the_benchmark_prints_its_table(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--sizes", "120", "--jobs", "2", "--workdir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    (header,) = [i for i, line in enumerate(lines) if line.split()[:1] == ["products"]]
    assert lines[header].split() == HEADER
    row = lines[header + 1].split()
    assert row[0] == "120" and len(row) == 16
    assert all(float(value) > 0 for value in row)
    assert lines[header + 2].startswith("govern check of one demo product (examples/mesh/orders/order_items): ")
    assert lines[header + 2].endswith(" s")
    assert (tmp_path / "mesh-120" / "govern.toml").is_file()
