"""Property-based fuzzing (hypothesis): whatever a mesh holds, govern answers without a traceback.

- YAML loading: arbitrary bytes and YAML-shaped garbage load or raise a LoadError naming the file
  (and a line within it); whatever PyYAML writes and libyaml's own loader reads back, govern reads
  back equal, with a line for every key.
- Descriptor and contract models: the demo's native and ODPS descriptors and ODCS contract with any
  value replaced by any other (wrong types, deep nesting, huge and odd strings) load, or raise a
  LoadError with file and line; contracts never raise (schema problems are data for the rules).
- Input builder and evaluation: an audit of a mesh made of such files, and of a mesh with hostile
  files added (alias bombs, deep nesting, non-UTF-8, empty files, folders named like descriptors,
  symbolic link loops), exits 0, 1 or 3 (3 when something could not be evaluated), evaluates the
  intact products and marks the rest ``error``.

The number of examples is bounded so CI stays fast: GOVERN_FUZZ_EXAMPLES (default 100) for the
in-memory properties, a fifth of it for the ones that run an audit. Set it higher for a long run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from engine.errors import LoadError
from engine.gather.contracts import load_contract
from engine.gather.descriptors import load_descriptor
from engine.gather.yamlsrc import join, load_file, load_text
from tests.conftest import DEMO, REPO

EXAMPLES = int(os.environ.get("GOVERN_FUZZ_EXAMPLES", "100"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=max(EXAMPLES // 5, 5), deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = "2026-11-21T09:00:00Z"

NATIVE = DEMO / "orders/returns/dataproduct.yaml"
ODPS = DEMO / "customers/segments/customers_segments.odps.yaml"
CONTRACT = DEMO / "orders/returns/orders-returns-v1.odcs.yaml"

# --- strategies ---------------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "null", "~", "yes", "on", "0x1F", "1e400", "-.inf", "2027-02-30", "12:30:00", "\ufeff"]),
    # huge strings (no lone surrogates: no UTF-8 file can hold one)
    st.builds(lambda ch, n: ch * n, st.characters(exclude_categories=["Cs"]), st.integers(1, 100_000)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
deeply_nested = st.builds(lambda n, leaf: json.loads("[" * n + json.dumps(leaf) + "]" * n), st.integers(1, 140), scalars)

YAML_PIECES = [
    "a:", "b: ", " ", "  ", "\n", "- ", "&x ", "*x", "[", "]", "{", "}", ", ", ": ", "'", '"', "? ", "!!str ",
    "!!python/object:os.system ", "!custom ", "<<: ", "<<: *x", "---\n", "...\n", "# c", "\t", "|\n", ">-\n",
    "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "\x00", "\x1b", "\ufeff", "\u2028", "é", "🙂", "key", "1", "null",
    "2027-01-01", "kind: DataProduct\n", "name: x\n",
]  # fmt: skip
yaml_garbage = st.lists(st.sampled_from(YAML_PIECES), max_size=60).map("".join)


def alias_bomb(width: int, depth: int) -> str:
    """``depth`` anchored lists of ``width`` aliases each to the previous: width**depth leaves."""
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


def load_or_error(raw: bytes, name: str = "fuzz.yaml") -> Any:
    """load_file on ``raw``: the Located document, or the LoadError it raised (checked to name the file
    and a line of it)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(raw)
        try:
            return load_file(path, name)
        except LoadError as e:
            assert e.file == name and e.message
            assert e.line is None or 1 <= e.line <= raw.count(b"\n") + 1
            return e


# --- YAML loading -------------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=3000))
def test_any_bytes_load_or_name_the_file(raw):
    load_or_error(raw)


@FAST
@given(yaml_garbage)
def test_yaml_shaped_garbage_loads_or_names_file_and_line(text):
    load_or_error(text.encode("utf-8"))


@SLOW
@given(st.integers(2, 10), st.integers(2, 10))
def test_alias_bombs_are_refused(width, depth):
    result = load_or_error(alias_bomb(width, depth).encode())
    if width**depth > 500_000:
        assert isinstance(result, LoadError)


def walk(value: Any, parts: tuple = ()) -> list[tuple]:
    """Every key path below ``value`` as a tuple of keys and indexes."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += [(*parts, k), *walk(v, (*parts, k))]
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += walk(v, (*parts, i))
    return found


def shown(parts: tuple) -> str:
    path = ""
    for part in parts:
        path = join(path, part)
    return path


def _reference_reads_back(text: str, data: Any) -> bool:
    """Whether libyaml's own safe loader reads ``data`` back: PyYAML's emitter writes some things it
    cannot (a raw NEL with allow_unicode, lone surrogates as escapes)."""
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader) == data
    except yaml.YAMLError:
        return False


@FAST
@given(st.dictionaries(st.text(max_size=12), values | deeply_nested, max_size=6), st.booleans())
def test_what_pyyaml_writes_reads_back_equal_with_every_key_located(data, unicode):
    text = yaml.safe_dump(data, allow_unicode=unicode, width=float("inf"))
    assume(_reference_reads_back(text, data))
    doc = load_or_error(text.encode("utf-8"))
    if isinstance(doc, LoadError):  # only the documented limits may refuse a document
        assert "deeper than" in doc.message or "larger than" in doc.message, doc
        return
    assert doc.data == data
    lines = text.count("\n") + 1
    for parts in walk(data):
        assert 1 <= doc.lines[shown(parts)] <= lines


# --- descriptor and contract models -------------------------------------------------------------------


def mutated(template: Path):
    """The template's data with one value somewhere replaced, one key dropped or one key added."""
    base = load_file(template).data

    def apply(choice: tuple[str, tuple, Any]) -> dict:
        action, parts, value = choice
        data = json.loads(json.dumps(base))
        parent = data
        for part in parts[:-1]:
            parent = parent[part]
        key = parts[-1]
        if action == "replace":
            parent[key] = value
        elif action == "drop":
            del parent[key]
        else:
            parent[f"{key}_extra"] = value
        return data

    return st.tuples(st.sampled_from(["replace", "drop", "add"]), st.sampled_from(walk(base)), values | deeply_nested).map(apply)


def as_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=float("inf"))


@FAST
@given(mutated(NATIVE) | mutated(ODPS))
def test_descriptors_load_or_name_file_and_line(data):
    text = as_yaml(data)
    try:
        loaded = load_descriptor(load_text(text, "dataproduct.yaml"))
    except LoadError as e:
        assert e.file == "dataproduct.yaml" and e.message
        assert e.line is not None and 1 <= e.line <= text.count("\n") + 1
        event("refused with file:line")
    else:
        assert loaded.product.name is not None
        event("loaded")


@FAST
@given(mutated(CONTRACT))
def test_contracts_always_load_and_report_schema_problems(data):
    try:
        doc = load_text(as_yaml(data), "c.odcs.yaml")
    except LoadError as e:  # the reader's own limits (nesting depth)
        assert e.file == "c.odcs.yaml" and e.line and "nested deeper than" in e.message
        return
    loaded = load_contract(doc)
    event("valid" if loaded.contract.valid else "schema problems")
    assert loaded.contract.valid == (not loaded.contract.schema_errors)
    json.dumps(loaded.contract.model_dump(mode="json"))


# --- the input builder and evaluation, through a whole audit -------------------------------------------


def audit(mesh: Path) -> dict:
    args = ["audit", str(mesh), "--policies", str(REPO / "policies"), "--governance", str(REPO / "governance")]
    args += ["--no-store", "--format", "json", "--jobs", "1", "--now", NOW]
    result = CliRunner().invoke(__import__("engine.cli").cli.main, args, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    report = json.loads(result.stdout)
    broken = report["errors"] or any(p["verdict"] == "error" for p in report["products"])
    assert result.exit_code == (3 if broken else 1 if report["summary"]["verdicts"]["fail"] else 0)
    return report


@SLOW
@given(mutated(NATIVE), mutated(CONTRACT))
def test_an_audit_of_mutated_files_evaluates_or_marks_error(product, contract):
    with tempfile.TemporaryDirectory() as tmp:
        mesh = Path(tmp)
        (mesh / "returns").mkdir()
        (mesh / "returns/dataproduct.yaml").write_text(as_yaml(product))
        (mesh / "returns/orders-returns-v1.odcs.yaml").write_text(as_yaml(contract))
        report = audit(mesh)
    for p in report["products"]:
        assert p["verdict"] in ("pass", "fail", "error")
        event(p["verdict"])
        assert (p["verdict"] == "error") == bool(p["errors"])
    assert len(report["products"]) + len(report["errors"]) >= 1


HAZARDS = {
    "alias bomb": lambda p: p.write_text(alias_bomb(9, 8)),
    "deep nesting": lambda p: p.write_text("a: " + "[" * 300 + "]" * 300 + "\n"),
    "non-UTF-8": lambda p: p.write_bytes(b"kind: DataProduct\nname: caf\xe9\n"),
    "empty": lambda p: p.write_text(""),
    "a list": lambda p: p.write_text("- kind: DataProduct\n"),
    "a folder": lambda p: p.mkdir(),
    "a link loop": lambda p: p.symlink_to(p.name),
    "a dangling link": lambda p: p.symlink_to("nowhere.yaml"),
}


@SLOW
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(HAZARDS)), st.sampled_from(["dataproduct.yaml", "x.odcs.yaml"])),
        min_size=1,
        max_size=4,
        unique=True,
    )
)
def test_hostile_files_in_a_mesh_never_stop_the_audit(hazards):
    with tempfile.TemporaryDirectory() as tmp:
        mesh = Path(tmp)
        for product in ("orders/returns", "customers/profiles"):
            (mesh / product).mkdir(parents=True)
            for source in (DEMO / product).iterdir():
                (mesh / product / source.name).write_bytes(source.read_bytes())
        for i, (hazard, name) in enumerate(hazards):
            (mesh / f"bad{i}").mkdir()
            HAZARDS[hazard](mesh / f"bad{i}" / name)
        report = audit(mesh)
    verdicts = {p["id"]: p["verdict"] for p in report["products"]}
    assert verdicts.pop("orders_returns") != "error" and verdicts.pop("customers_profiles") != "error"
    assert set(verdicts.values()) <= {"error"}
    text = json.dumps(report)
    for i, (hazard, name) in enumerate(hazards):
        if hazard != "a folder":  # a folder is not a file: discovery passes it by
            assert f"bad{i}/{name}" in text, (hazard, name)
