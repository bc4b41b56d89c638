"""Every YAML and JSON file of ../shared/corpora, through the loader that fits its kind and through
``govern check FILE``: each loads or is rejected with its file and line, and nothing raises.

The kinds come from the corpora's MANIFEST.tsv. Counts per outcome are printed at the end of the
pytest run (see ``pytest_terminal_summary`` in conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import LoadError
from engine.gather.contracts import load_contract
from engine.gather.descriptors import load_descriptor
from engine.gather.imported import LineageImport, read_dbt_manifest, read_openlineage
from engine.gather.yamlsrc import load_file

from .conftest import SWEEP_OUTCOMES, corpus_manifest

pytestmark = pytest.mark.corpus

NOW = "2026-11-21T09:00:00Z"
SUFFIXES = (".yaml", ".yml", ".json")


def _manifest() -> list[tuple[str, str]]:
    rows = corpus_manifest()
    return [(f"{r['source']}/{r['path']}", r["kind"]) for r in rows if r["path"].lower().endswith(SUFFIXES)]


FILES = _manifest()


def _load_by_kind(path: Path, kind: str) -> str:
    """The loader that fits the kind; 'loaded', or 'rejected' with file and line checked."""
    shown = str(path)
    try:
        if kind.startswith("odcs-contract"):
            loaded = load_contract(load_file(path, shown))
            return "loaded" if loaded.contract.valid else "loaded with schema errors"
        if kind.startswith(("odps-", "dps-")):
            load_descriptor(load_file(path, shown))
            return "loaded"
        if kind.startswith(("dbt-manifest", "openlineage-event")):
            result = LineageImport()
            (read_dbt_manifest if kind.startswith("dbt") else read_openlineage)(path, result)
            for error in result.errors:
                assert error.file, error
            return "rejected" if result.errors else "loaded"
        load_file(path, shown)
        return "loaded"
    except LoadError as e:
        assert e.file == shown, (e.file, shown)
        assert e.line is not None and e.line >= 1, f"{e.message} has no line"
        return "rejected"


@pytest.mark.parametrize(("name", "kind"), FILES, ids=[n for n, _ in FILES])
def test_corpus_file_loads_or_is_rejected_with_file_and_line(govern, corpora, name, kind):
    path = corpora / name
    outcome = _load_by_kind(path, kind)
    SWEEP_OUTCOMES[f"{kind.split('(')[0]}: {outcome}"] += 1

    run = govern("check", "--now", NOW, str(path), "--format", "json")  # raises on any traceback
    assert run.code in (0, 1, 3), run.err
    if run.code == 3:
        # Not a product or contract, or not loadable: the message names the file and a line.
        assert f"{path}:" in run.out + run.err, run.out + run.err
        SWEEP_OUTCOMES["govern check: exit 3 with file:line"] += 1
    else:
        assert run.json()["products"], run.out
        SWEEP_OUTCOMES[f"govern check: exit {run.code}"] += 1


def test_the_sweep_covers_the_corpora(corpora):
    assert len(FILES) > 500
    assert all((corpora / name).is_file() for name, _ in FILES)
