"""Files that break on purpose or by accident, run through the real ``govern`` process: an alias
bomb, a 50 MB file, a symbolic link loop, bytes that are not UTF-8, nesting deeper than libyaml can
compose, a number too long to read, a value its explicit tag cannot take, a control character, and
a link leaving the mesh.

Each ends with exit 3 and a message naming the file (and the line where there is one), and an
audit of a mesh holding one of them still reports every other product.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import govern_exe

NOW = "2026-11-21T09:00:00Z"


def _alias_bomb() -> str:
    levels = ["kind: DataProduct", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    return "\n".join(levels) + "\n"


def _write_bad(folder: Path, kind: str) -> tuple[Path, str, int | None]:
    """A bad dataproduct.yaml of the given kind in ``folder``: (path, expected message, expected line)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dataproduct.yaml"
    if kind == "alias bomb":
        path.write_text(_alias_bomb(), encoding="utf-8")
        return path, "more than 500000 values (an alias bomb?)", 2
    if kind == "50 MB":
        with path.open("w", encoding="utf-8") as f:
            f.write("kind: DataProduct\ndescription: |\n")
            line = "  " + "x" * 1022 + "\n"
            for _ in range(50 * 1024):
                f.write(line)
        return path, "larger than the limit of 16777216", None
    if kind == "symlink loop":
        os.symlink(path.name, path)
        return path, "cannot read file: Too many levels of symbolic links", None
    if kind == "not UTF-8":
        path.write_bytes(b"kind: DataProduct\nname: ok\ndescription: caf\xe9\n")
        return path, "not valid UTF-8 (byte 0xe9 at offset 43)", 3
    if kind == "nested 50,000 deep":  # (libyaml, composing it recursively, would overflow its stack)
        path.write_text("kind: DataProduct\nname: ok\nextra: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
        return path, "document is nested deeper than 100 levels", 3
    if kind == "a number of 5,000 digits":  # (more than Python converts from text)
        path.write_text("kind: DataProduct\nname: ok\nversion: " + "1" * 5000 + "\n", encoding="utf-8")
        return path, "a number of 5000 characters is too long to read", 3
    if kind == "an explicit tag its value cannot take":  # (PyYAML raised KeyError: a traceback, every check of the mesh)
        path.write_text("kind: DataProduct\nname: ok\nowner: !!bool maybe\n", encoding="utf-8")
        return path, "'maybe' is not a valid bool (tag !!bool)", 3
    if kind == "a control character":
        path.write_text('kind: DataProduct\nname: ok\ndescription: "a\x07b"\n', encoding="utf-8")
        return path, "invalid YAML: character U+0007 is not allowed", 3
    if kind == "named pipe":  # (reading it would wait for a writer: the run would never end)
        os.mkfifo(path)
        return path, "cannot read file: not a regular file (a named pipe, a device or a socket)", None
    raise AssertionError(kind)


KINDS = [
    "alias bomb",
    "50 MB",
    "symlink loop",
    "not UTF-8",
    "nested 50,000 deep",
    "a number of 5,000 digits",
    "an explicit tag its value cannot take",
    "a control character",
    "named pipe",
]


@pytest.mark.parametrize("kind", KINDS)
def test_check_of_a_hostile_file_exits_3_naming_it(govern_process, tmp_path, kind):
    path, message, line = _write_bad(tmp_path / "bad", kind)
    run = govern_process("check", "--now", NOW, str(path))
    assert run.code == 3, run.out + run.err
    where = f"{path}:{line}" if line else str(path)
    assert where in run.out + run.err
    assert message in run.out + run.err


@pytest.mark.parametrize("kind", KINDS)
def test_audit_reports_the_hostile_file_and_every_other_product(govern_process, demo_copy, kind):
    path, message, _ = _write_bad(demo_copy / "examples/mesh/orders/hostile", kind)
    run = govern_process("audit", "--now", NOW, "--no-store", "--format", "json", cwd=demo_copy)
    assert run.code == 3, run.err
    report = json.loads(run.out)
    errored = [p for p in report["products"] if p["verdict"] == "error"]
    assert [p["source"] for p in errored] == ["examples/mesh/orders/hostile/dataproduct.yaml"]
    assert message in errored[0]["errors"][0]
    evaluated = [p for p in report["products"] if p["verdict"] != "error"]
    assert len(evaluated) == 14  # every product of the demo mesh


def test_a_link_leaving_the_mesh_is_not_followed(govern_process, demo_copy, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("kind: DataProduct\nname: stolen\ndomain: orders\n", encoding="utf-8")
    folder = demo_copy / "examples/mesh/orders/linked"
    folder.mkdir()
    (folder / "dataproduct.yaml").symlink_to(outside)
    run = govern_process("audit", "--now", NOW, "--no-store", "--format", "json", cwd=demo_copy)
    assert run.code == 3, run.err
    report = json.loads(run.out)
    assert "stolen" not in {p["id"] for p in report["products"]}
    (errored,) = [p for p in report["products"] if p["verdict"] == "error"]
    assert errored["source"] == "examples/mesh/orders/linked/dataproduct.yaml"
    assert errored["errors"] == [
        f"examples/mesh/orders/linked/dataproduct.yaml: a symbolic link to {outside}, outside the mesh, is not followed"
    ]


def test_two_audits_into_one_new_store_at_once_both_land(demo_copy):
    """Two real processes audit into the same (not yet created) store at the same moment."""
    store = demo_copy / "shared" / "history.sqlite"
    exe = govern_exe()
    argv = [exe, "audit", "--now", NOW, "--store", str(store), "--format", "json"]
    procs = [subprocess.Popen(argv, cwd=demo_copy, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.returncode, out, err) for p in procs for out, err in [p.communicate(timeout=120)]]
    for code, out, err in outcomes:
        assert "Traceback" not in out + err
        assert code == 1, err  # the demo mesh has open blocking findings; nothing failed
        assert json.loads(out)["errors"] == []
    history = subprocess.run(
        [exe, "history", "--store", str(store), "--format", "json"], cwd=demo_copy, capture_output=True, text=True
    )
    assert history.returncode == 0, history.stderr
    runs = json.loads(history.stdout)
    assert sorted(r["id"] for r in runs["runs"]) == sorted(json.loads(out)["run"]["id"] for _, out, _ in outcomes)
