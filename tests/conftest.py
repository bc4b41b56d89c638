"""Shared fixtures: the repository, the third-party corpora, and running the real CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"
# The columns of govern history's table of runs, as its header line splits into words
HISTORY_COLUMNS = ["#", "run", "started", "as", "of", "score", "products", "errors", "open", "blocking", "new", "fixed"]
DEMO = REPO / "examples" / "mesh"


REFERENCE_INSTALL = "pip install --ignore-requires-python opa-golib-python-bindings==0.4.4"


def corpus_manifest() -> list[dict[str, str]]:
    """The rows of the corpora's MANIFEST.tsv (source, repo, commit, path, kind, bytes, sha256); none
    when the corpora are absent."""
    manifest = CORPORA / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def require_reference() -> None:
    """Skip when the reference engine (the OPA Go library) is not installed; fail instead under
    GOVERN_REQUIRE_REFERENCE=1, which scripts/test sets, so CI cannot skip the parity tests."""
    try:
        import opa_bindings  # noqa: F401
    except ImportError:
        message = f"the reference engine is not installed ({REFERENCE_INSTALL})"
        if os.environ.get("GOVERN_REQUIRE_REFERENCE") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl): Debian's, or on PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), reverse=True)
    found = debian[0] if debian else shutil.which("initdb")
    return Path(found).parent if found else None


def _missing_postgres(message: str) -> None:
    """Skip, or fail under GOVERN_REQUIRE_POSTGRES=1, which scripts/test sets (it installs PostgreSQL)."""
    if os.environ.get("GOVERN_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server, for the history stored in PostgreSQL: the one GOVERN_TEST_POSTGRES
    names (the URL of a database of a server where the tests may create databases), or else a
    throwaway cluster made with initdb in a temporary folder, listening on a Unix socket there
    only, stopped at the end of the session. Yields the URL of its ``postgres`` database."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing_postgres("psycopg is not installed (pip install -e '.[test]')")
    given = os.environ.get("GOVERN_TEST_POSTGRES")
    if given:
        yield given
        return
    binaries = _postgres_bin()
    if binaries is None:
        _missing_postgres("no PostgreSQL server programs (Debian: apt-get install postgresql)")
    # (a folder of its own in /tmp: pytest's are private to the user running the tests, and initdb
    # refuses to run as root, so the cluster then belongs to Debian's postgres user)
    folder = Path(tempfile.mkdtemp(prefix="govern-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    initdb = [*as_user, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "govern"]
    ctl = [*as_user, str(binaries / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(initdb, check=True, capture_output=True)
        options = f"-k {folder} -c listen_addresses='' -F"
        subprocess.run([*ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"], check=True, capture_output=True)
        yield f"postgresql://govern@/postgres?host={folder}"
    finally:
        subprocess.run([*ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_store(postgres_server: str) -> str:
    """The URL of a new, empty database of the test server."""
    import uuid

    import psycopg

    name = f"govern_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = postgres_server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory: pytest.TempPathFactory):
    """The run's cache (engine/cache.py) in a folder of its own, never the user's, shared by every
    test and the processes they start, so tests see it cold and warm alike."""
    os.environ["GOVERN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def govern(monkeypatch: pytest.MonkeyPatch):
    """Run ``govern`` in-process from the repository root; fail the test on any traceback."""

    def run(*args: str, cwd: Path = REPO) -> Run:
        monkeypatch.chdir(cwd)
        result = CliRunner().invoke(__import__("engine.cli").cli.main, list(args), catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.stdout + result.stderr
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


def govern_exe() -> str:
    """The installed ``govern`` console script."""
    return shutil.which("govern") or str(Path(sys.executable).parent / "govern")


@pytest.fixture
def govern_process():
    """Run the installed ``govern`` console script as its own process (what users run)."""

    def run(*args: str, cwd: Path = REPO, timeout: float = 60) -> Run:
        proc = subprocess.run([govern_exe(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ})
        assert "Traceback" not in proc.stdout + proc.stderr
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"third-party corpora not present at {CORPORA}")
    return CORPORA


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo repository layout (govern.toml, policies and their tests, governance, mesh)."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("policies", "policy_tests", "governance", "examples"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns(".govern", "__pycache__"))
    shutil.copy(REPO / "govern.toml", root / "govern.toml")
    return root


# Outcomes of the corpus sweep (tests/test_corpus_sweep.py), printed at the end of the run.
SWEEP_OUTCOMES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Counts per outcome of the corpus sweep, when it ran."""
    if SWEEP_OUTCOMES:
        terminalreporter.section("corpus sweep")
        for outcome, count in sorted(SWEEP_OUTCOMES.items()):
            terminalreporter.write_line(f"{count:5d}  {outcome}")
