"""Bad input other than a mesh's files: governance and policy folders, govern.toml and pyproject.toml,
imported lineage, a baseline report, options, the history database and an output path. Each is a
message naming what is wrong (and its line where it has one) and a distinct exit code, never a
traceback (the ``govern`` fixture fails on one)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

NOW = "2026-11-21T09:00:00Z"
EVENT = (
    '{"eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z", "run": {"runId": "r1"},'
    ' "job": {"namespace": "n", "name": "j"}, "inputs": %s, "outputs": []}'
)


def test_a_domain_configuration_that_cannot_be_read_is_a_problem_naming_it(govern, demo_copy):
    (demo_copy / "governance/domains/shipping.yaml").mkdir()
    run = govern("validate", "--now", NOW, cwd=demo_copy)
    assert (run.code, run.out) == (3, "governance/domains/shipping.yaml: cannot read file: Is a directory\n")


def test_a_domain_configured_by_two_files_is_a_problem_rather_than_one_replacing_the_other(govern, demo_copy):
    (demo_copy / "governance/domains/orders.yml").write_text("domain: orders\n")
    run = govern("validate", "--now", NOW, cwd=demo_copy)
    assert (run.code, run.out) == (
        3,
        "governance/domains/orders.yml:1: domain 'orders' is already configured in governance/domains/orders.yaml\n",
    )


@pytest.mark.parametrize("command", ["validate", "test"])
def test_a_policy_that_is_a_loop_of_links_is_an_error_naming_it(govern, demo_copy, command):
    os.symlink("loop.rego", demo_copy / "policies/global/naming/loop.rego")
    run = govern(command, cwd=demo_copy)
    assert run.code == 3
    # (the same words on every Python: 3.11 raises RuntimeError for the loop, 3.13 an OSError)
    assert run.err == "error: policies/global/naming/loop.rego: cannot read policy: Too many levels of symbolic links\n"


@pytest.mark.parametrize(
    ("command", "path"),
    [("validate", "policies/global/naming/product_name.rego"), ("test", "policy_tests/global/naming/product_name_test.rego")],
)
def test_a_policy_or_test_that_is_not_utf8_is_an_error_at_the_line_of_the_byte(govern, demo_copy, command, path):
    """(Python's codec text, with no line: 'utf-8' codec can't decode byte 0xe9 in position 1165.)"""
    file = demo_copy / path
    data = file.read_bytes() + b"# caf\xe9\n"
    file.write_bytes(data)
    run = govern(command, cwd=demo_copy)
    assert run.code == 3
    line, offset = data.count(b"\n"), len(data) - 2
    assert f"{path}:{line}: cannot read policy: not valid UTF-8 (byte 0xe9 at offset {offset})" in run.out + run.err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("pyproject.toml", b"[tool]\ngovern = 5\n", "[tool.govern] must be a table, not int"),
        ("govern.toml", b'policies = "\xff"\n', "invalid TOML: not valid UTF-8 (byte 0xff at offset 12)"),
    ],
)
def test_a_settings_file_that_is_not_what_govern_reads_is_an_error(govern, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    run = govern("validate", cwd=tmp_path)
    assert (run.code, run.err) == (3, f"error: {tmp_path / name}: {message}\n")


KNOWN = "known: policies, governance, mesh, policy_tests, lineage_map, coverage_threshold, rule_time_limit"


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("govern.toml", 'policies = "policies"\npolices = "rules"\n', 2),
        # (in pyproject.toml, only [tool.govern] is govern's: another table's polices is not)
        ("pyproject.toml", '[project]\npolices = 1\n\n[tool.govern]\npolicies = "policies"\n"polices" = "rules"\n', 6),
    ],
)
def test_an_unknown_key_of_the_settings_is_an_error_at_its_line(govern, tmp_path, name, content, line):
    """A misspelt key silently did nothing: the default folder was used instead."""
    (tmp_path / name).write_text(content)
    run = govern("validate", cwd=tmp_path)
    assert (run.code, run.err) == (3, f"error: {name}:{line}: unknown key 'polices' ({KNOWN})\n")


def test_a_pyproject_without_a_govern_table_is_not_a_govern_configuration(govern, tmp_path):
    (tmp_path / "pyproject.toml").write_text("tool = 5\n")  # (another tool's business): the defaults apply
    run = govern("validate", cwd=tmp_path)
    assert (run.code, run.err) == (
        2,
        "error: policy folder policies does not exist, and no govern.toml was found in this folder or above it: run govern"
        " in a project (see govern generate), or set --policies\n",
    )


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("ol.json", EVENT % "5", "ol.json: invalid OpenLineage event: inputs: Input should be a valid list"),
        (
            "ol.ndjson",
            "\n".join([EVENT % "[]", EVENT % "[]", EVENT % "[]", "{bad"]) + "\n",
            "ol.ndjson:4: not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "deep.json: JSON nested too deeply to read"),
        (  # (more digits than Python reads: json.loads raised a ValueError, a traceback)
            "long.json",
            '{"eventType": "COMPLETE",\n "n": ' + "9" * 5000 + "}",
            "long.json:2: a number of more than 4300 digits is too long to read",
        ),
        (
            "long.ndjson",
            EVENT % "[]" + "\n" + '{"n": ' + "9" * 5000 + "}\n",
            "long.ndjson:2: a number of more than 4300 digits is too long to read",
        ),
    ],
)
def test_openlineage_events_that_are_not_what_govern_reads_are_errors_naming_them(govern, demo_copy, name, content, problem):
    path = demo_copy / name
    path.write_text(content)
    run = govern("audit", "--now", NOW, "--no-store", "--openlineage", name, cwd=demo_copy)
    assert run.code == 3
    assert f"\n! {problem}\n" in run.out


def test_a_dbt_manifest_nested_too_deeply_is_an_error_naming_it(govern, demo_copy):
    (demo_copy / "manifest.json").write_text('{"nodes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    run = govern("audit", "--now", NOW, "--no-store", "--dbt-manifest", "manifest.json", cwd=demo_copy)
    assert run.code == 3
    assert "\n! manifest.json: JSON nested too deeply to read\n" in run.out


def test_a_baseline_nested_too_deeply_is_an_error_naming_it(govern, demo_copy):
    (demo_copy / "baseline.json").write_text("[" * 100_000 + "]" * 100_000)
    run = govern("check", "--now", NOW, "examples/mesh/orders", "--baseline", "baseline.json", cwd=demo_copy)
    assert (run.code, run.err) == (3, "error: baseline.json: the baseline is JSON nested too deeply to read\n")


def test_a_baseline_or_manifest_with_a_number_too_long_to_read_is_an_error_at_its_line(govern, demo_copy):
    (demo_copy / "long.json").write_text('{"nodes": {},\n "n": ' + "9" * 5000 + "}")
    run = govern("check", "--now", NOW, "examples/mesh/orders", "--baseline", "long.json", cwd=demo_copy)
    assert (run.code, run.err) == (
        3,
        "error: long.json:2: the baseline holds a number of more than 4300 digits, too long to read\n",
    )
    run = govern("check", "--now", NOW, "examples/mesh/orders", "--dbt-manifest", "long.json", cwd=demo_copy)
    assert run.code == 3
    assert "\n! long.json:2: a number of more than 4300 digits is too long to read\n" in run.out


def test_a_time_before_the_first_utc_time_is_a_usage_error(govern, demo_copy):
    run = govern("check", "--now", "0001-01-01T00:00:00+14:00", "examples/mesh/orders", cwd=demo_copy)
    assert run.code == 2
    assert "Invalid value for '--now': '0001-01-01T00:00:00+14:00' is not an RFC 3339 time" in run.err


def test_lineage_written_into_a_folder_that_does_not_exist_is_a_usage_error(govern, demo_copy):
    """(Found before the mesh is read, as for every --output.)"""
    run = govern("lineage", "examples/mesh", "-o", "nowhere/lineage.txt", cwd=demo_copy)
    assert run.code == 2
    assert run.err.endswith(
        "Error: Invalid value for '--output' / '-o': 'nowhere/lineage.txt':"
        f" there is no folder {demo_copy}/nowhere to write it in\n"
    )
    assert not (demo_copy / "nowhere").exists()


def test_a_history_missing_a_table_is_refused_and_left_as_it_is(govern, demo_copy):
    assert govern("audit", "--now", NOW, cwd=demo_copy).code == 1  # (the demo mesh has blocking findings)
    history = demo_copy / "examples/mesh/.govern/history.sqlite"
    with sqlite3.connect(history) as db:
        db.execute("DROP TABLE findings")
    db.close()
    before = history.read_bytes()
    run = govern("audit", "--now", NOW, cwd=demo_copy)
    assert (run.code, run.err) == (
        3,
        f"error: {history}: not a usable govern history database (no table findings); move it aside or pass --store\n",
    )
    assert history.read_bytes() == before


@pytest.mark.parametrize("command", [["audit"], ["lineage"], ["check", "examples/mesh/orders/order_items"], ["test"]])
def test_a_mesh_folder_in_govern_toml_that_does_not_exist_is_an_error_and_nothing_is_created(govern, demo_copy, command):
    """(A check ignored it, and judged the product without its mesh: its upstreams not in the mesh.)"""
    settings = demo_copy / "govern.toml"
    settings.write_text(settings.read_text().replace('mesh = "examples/mesh"', 'mesh = "examples/mesh-typo"'))
    run = govern(*command, cwd=demo_copy)
    line = settings.read_text().splitlines().index('mesh = "examples/mesh-typo"') + 1
    assert (run.code, run.err) == (3, f"error: govern.toml:{line}: 'mesh' names examples/mesh-typo, which is not a folder\n")
    assert not (demo_copy / "examples/mesh-typo").exists()


def test_a_mesh_or_lineage_map_given_on_the_command_line_replaces_a_wrong_key(govern, demo_copy):
    """The key is not looked at when the command names its own (MESH, --mesh, --lineage-map)."""
    settings = demo_copy / "govern.toml"
    text = settings.read_text().replace('mesh = "examples/mesh"', 'mesh = "examples/mesh-typo"')
    settings.write_text(text + 'lineage_map = "no-such-map.yaml"\n')
    (demo_copy / "map.yaml").write_text("{}\n")
    assert govern("audit", "--now", NOW, "--no-store", "examples/mesh", "--lineage-map", "map.yaml", cwd=demo_copy).code == 1
    assert govern("lineage", "examples/mesh", "--lineage-map", "map.yaml", cwd=demo_copy).code == 0
    run = govern(
        "check", "--now", NOW, "--mesh", "examples/mesh", "--lineage-map", "map.yaml", "examples/mesh/orders", cwd=demo_copy
    )
    assert run.code == 1
    run = govern("check", "--now", NOW, "--mesh", "examples/mesh", "examples/mesh/orders", cwd=demo_copy)
    line = len(text.splitlines()) + 1
    assert (run.code, run.err) == (3, f"error: govern.toml:{line}: 'lineage_map' names no-such-map.yaml, which is not a file\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('mesh = "."\ncoverage_threshold = 150\n', "2: 'coverage_threshold' must be a number from 0 to 100, not 150"),
        ('mesh = "."\npolicies = 3\n', "2: 'policies' must be a path string"),
        ('mesh = "."\n\n[tool]\nx = 1\n', "3: unknown key 'tool' (known: "),
        ('policies = "policy"\n', "1: 'policies' names policy, which is not a folder"),
        ('mesh = ""\n', "1: 'mesh' must be a path string"),  # (not the settings file's own folder)
        ('lineage_map = "lineage.yaml"\n', "1: 'lineage_map' names lineage.yaml, which is not a file"),
    ],
)
def test_a_setting_govern_toml_gets_wrong_is_an_error_at_its_line(govern, tmp_path, content, message):
    (tmp_path / "govern.toml").write_text(content)
    run = govern("validate", cwd=tmp_path)
    assert run.code == 3
    assert run.err.startswith(f"error: govern.toml:{message}")


def _damage(database: Path, *names: str) -> None:
    """Overwrite the root pages of the named tables and indexes, headers included, so that SQLite
    finds them damaged when it reads them (what a failing disk leaves)."""
    with closing(sqlite3.connect(database)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        marks = ", ".join("?" * len(names))
        pages = [r[0] for r in conn.execute(f"SELECT rootpage FROM sqlite_master WHERE name IN ({marks})", names)]
    with database.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * size)
            f.write(b"\xff" * size)


@pytest.mark.parametrize(
    "names", [("findings", "sqlite_autoindex_findings_1"), ("domain_scores", "sqlite_autoindex_domain_scores_1")]
)
def test_a_history_damaged_inside_stops_the_audit_before_the_mesh_is_evaluated_and_stays_as_it_was(govern, demo_copy, names):
    """Damage only a query finds (not the header a first look checks) is named, never a traceback."""
    history = demo_copy / "examples/mesh/.govern/history.sqlite"
    assert govern("audit", "--now", NOW, "-o", "first.json", cwd=demo_copy).code == 1
    _damage(history, *names)
    before = history.read_bytes()
    run = govern("audit", "--now", NOW, "--format", "json", "-o", "report.json", cwd=demo_copy)
    assert (run.code, run.err) == (
        3,
        f"error: {history}: not a usable govern history database (database disk image is malformed);"
        " move it aside or pass --store\n",
    )
    assert history.read_bytes() == before and not (demo_copy / "report.json").exists()
    if names[0] == "domain_scores":
        listed = govern("history", "--store", str(history), cwd=demo_copy)
        assert (listed.code, listed.out) == (3, "")
        assert "database disk image is malformed" in listed.err


def test_an_unusable_history_stops_the_audit_before_the_mesh_is_evaluated(govern, demo_copy):
    history = demo_copy / "examples/mesh/.govern/history.sqlite"
    history.parent.mkdir(parents=True)
    history.write_text("not a database")
    run = govern("audit", "--now", NOW, "--format", "json", "-o", "report.json", cwd=demo_copy)
    assert (run.code, run.err) == (
        3,
        f"error: {history}: not a usable govern history database (file is not a database); move it aside or pass --store\n",
    )
    assert history.read_text() == "not a database"
    assert not (demo_copy / "report.json").exists() and not (demo_copy / "examples/mesh/.govern/index.db").exists()


def test_checking_a_folder_with_nothing_to_check_is_a_usage_error(govern, demo_copy):
    """A gate that checks nothing must not pass: a folder with no descriptor or contract in it."""
    (demo_copy / "docs").mkdir()
    (demo_copy / "docs/notes.txt").write_text("not a product\n")
    run = govern("check", "--now", NOW, "docs", cwd=demo_copy)
    assert (run.code, run.out, run.err) == (
        2,
        "",
        "error: nothing to check in docs: no data product descriptor or data contract found\n",
    )


def test_auditing_a_mesh_with_nothing_in_it_is_a_usage_error_and_stores_no_run(govern, demo_copy):
    """A scheduled audit of the wrong folder must not pass, nor enter the history as a run."""
    (demo_copy / "empty").mkdir()
    run = govern("audit", "--now", NOW, "empty", "--format", "json", cwd=demo_copy)
    assert (run.code, run.out, run.err) == (
        2,
        "",
        "error: nothing to audit in empty: no data product descriptor or data contract found\n",
    )
    # (nor leaves an index or an empty history behind in it)
    assert list((demo_copy / "empty").iterdir()) == []
    assert govern("history", "empty", cwd=demo_copy).code == 2


def test_a_path_with_nothing_to_check_among_others_is_a_usage_error_too(govern, demo_copy):
    """Checking a product and an empty folder must not pass on the product alone: the gate was
    meant to check both."""
    (demo_copy / "docs").mkdir()
    (demo_copy / "empty").mkdir()
    run = govern("check", "--now", NOW, "docs", "examples/mesh/orders/order_items", "empty", cwd=demo_copy)
    assert (run.code, run.out, run.err) == (
        2,
        "",
        "error: nothing to check in docs, empty: no data product descriptor or data contract found\n",
    )
    both = govern("check", "--now", NOW, "examples/mesh/orders/order_items", "examples/mesh/orders/returns", cwd=demo_copy)
    assert (both.code, both.err) == (0, "")  # (both demo products pass)


@pytest.mark.parametrize(
    "args, option",
    [
        (["check", "", "--format", "json"], "'PATHS...'"),
        (["check", "examples/mesh", "-o", ""], "'--output' / '-o'"),
        (["check", "examples/mesh", "--baseline", ""], "'--baseline'"),
        (["audit", "examples/mesh", "--store", ""], "'--store'"),
        (["history", "examples/mesh", "--store", ""], "'--store'"),
        (["lineage", "examples/mesh", "-o", ""], "'--output' / '-o'"),
        (["policies", "-o", ""], "'--output' / '-o'"),
        (["generate", ""], "'OUT'"),
    ],
)
def test_an_empty_path_is_a_usage_error(govern, demo_copy, args, option):
    """pathlib reads an empty path as the current folder: a check of it would check the folder, and
    a report written to it fail as an error of the run (3) after the work was done."""
    before = sorted(demo_copy.iterdir())
    run = govern(*args, cwd=demo_copy)
    assert (run.code, run.out) == (2, "")
    assert run.err.endswith(f"Error: Invalid value for {option}: an empty path\n")
    assert sorted(demo_copy.iterdir()) == before  # (nothing written, no history, no index)


@pytest.fixture
def unlistable(monkeypatch, demo_copy):
    """examples/mesh/finance/payments cannot be listed (as a folder without read permission for the
    user; the tests run as root, whom permissions do not stop, so os.scandir refuses it here)."""
    folder = str(demo_copy / "examples/mesh/finance/payments")
    real = os.scandir

    def scandir(path=".", *args):
        if os.fspath(path) == folder:
            raise PermissionError(13, "Permission denied", folder)
        return real(path, *args)

    monkeypatch.setattr(os, "scandir", scandir)
    return (
        "examples/mesh/finance/payments: cannot list this folder of the mesh (Permission denied): what it holds was not checked"
    )


@pytest.mark.parametrize("batch", ["100", "5"])  # (loaded whole; in batches planned with the mesh index)
def test_an_audit_says_which_folders_it_could_not_list(govern, demo_copy, unlistable, batch):
    run = govern("audit", "--now", NOW, "--no-store", "--batch", batch, "--format", "json", cwd=demo_copy)
    assert run.code == 3
    report = run.json()
    assert report["errors"] == [unlistable]
    assert len(report["products"]) == 13 and "finance_payments" not in {p["id"] for p in report["products"]}


@pytest.mark.parametrize("index", ["--index", "--no-index"])
def test_a_check_says_which_of_its_folders_it_could_not_list(govern, demo_copy, unlistable, index):
    finance = govern("check", "--now", NOW, index, "examples/mesh/finance", "--format", "json", cwd=demo_copy)
    assert (finance.code, finance.json()["errors"]) == (3, [unlistable])
    inventory = govern("check", "--now", NOW, index, "examples/mesh/inventory", "--format", "json", cwd=demo_copy)
    assert (inventory.code, inventory.json()["errors"]) == (1, [])  # (another domain's folder: not its to fix)


@pytest.fixture
def latin1_names(demo_copy):
    """A product folder and a contract whose names are latin-1 bytes, not UTF-8 (Linux allows any
    bytes in a name; Python holds them as lone surrogates, which no JSON or SQLite text can)."""
    orders = os.fsencode(demo_copy / "examples/mesh/orders")
    shutil.copytree(demo_copy / "examples/mesh/orders/returns", os.fsdecode(orders + b"/caf\xe9"))
    contract = next((demo_copy / "examples/mesh/orders/returns").glob("*.odcs.yaml"))
    shutil.copy(contract, os.fsdecode(orders + b"/returns/caf\xe9.odcs.yaml"))
    why = "its name is not UTF-8, which no report can hold: it was not checked"
    return [f"examples/mesh/orders/caf\\xe9: {why}", f"examples/mesh/orders/returns/caf\\xe9.odcs.yaml: {why}"]


def test_names_that_are_not_utf8_are_errors_of_the_run_not_a_crash(govern, demo_copy, latin1_names):
    """Every run says so (the mesh index lists their folder again each time), and every other
    product is still evaluated."""
    for _ in range(2):
        run = govern("audit", "--now", NOW, "--no-store", "--batch", "5", "--format", "json", cwd=demo_copy)
        assert (run.code, run.json()["errors"]) == (3, latin1_names)
        assert len(run.json()["products"]) == 14
    for index in ("--index", "--no-index"):
        run = govern("check", "--now", NOW, index, "examples/mesh/orders", "--format", "json", cwd=demo_copy)
        assert (run.code, run.json()["errors"]) == (3, latin1_names)


def test_the_junit_report_shows_the_runs_own_errors_as_an_erring_case(govern, demo_copy, latin1_names):
    """A CI test view of a run that exited 3 must not look green."""
    from junitparser import Error, JUnitXml

    run = govern("audit", "--now", NOW, "--no-store", "--format", "junit", cwd=demo_copy)
    assert run.code == 3
    xml = JUnitXml.fromstring(run.out.encode())
    suites = {suite.name: suite for suite in xml}
    assert xml.errors == 1 and suites["govern"].errors == 1
    (case,) = list(suites["govern"])
    (error,) = case.result
    assert isinstance(error, Error)
    assert (case.name, error.message, error.text) == ("run", latin1_names[0], "\n".join(latin1_names))


def test_a_domain_configuration_whose_name_is_not_utf8_is_a_problem_naming_it(govern, demo_copy):
    domains = os.fsencode(demo_copy / "governance/domains")
    shutil.copy(demo_copy / "governance/domains/orders.yaml", os.fsdecode(domains + b"/x\xe9.yaml"))
    run = govern("validate", cwd=demo_copy)
    assert (run.code, run.out, run.err) == (
        3,
        "governance/domains/x\\xe9.yaml: the name of this domain configuration is not UTF-8: rename it\n",
        "1 problem found\n",
    )


@pytest.mark.parametrize("command", [["validate"], ["test"], ["check", "examples/mesh/customers"]])
def test_a_policy_file_whose_name_is_not_utf8_is_an_error_naming_it(govern, demo_copy, command):
    naming = os.fsencode(demo_copy / "policies/global/naming")
    shutil.copy(demo_copy / "policies/global/naming/product_name.rego", os.fsdecode(naming + b"/x\xe9.rego"))
    run = govern(*command, cwd=demo_copy)
    assert (run.code, run.out) == (3, "")
    assert run.err.endswith("policies/global/naming/x\\xe9.rego: the name of this policy file is not UTF-8: rename it\n")


def test_a_current_folder_removed_under_the_shell_is_an_error(tmp_path):
    """Every path govern shows is relative to the current folder: when it no longer exists, a
    message and exit 3 rather than a traceback."""
    import subprocess

    from .conftest import govern_exe

    gone = tmp_path / "gone"
    gone.mkdir()

    def enter_and_remove() -> None:
        os.chdir(gone)
        os.rmdir(gone)

    proc = subprocess.run([govern_exe(), "validate"], capture_output=True, text=True, preexec_fn=enter_and_remove)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        3,
        "",
        "error: cannot use the current folder: No such file or directory; cd into one that exists\n",
    )


@pytest.mark.parametrize("command", ["validate", "test"])
def test_a_policy_that_is_a_named_pipe_is_an_error_naming_it(govern_process, demo_copy, command):
    """Reading a named pipe waits for a writer: the policy library would never be loaded."""
    os.mkfifo(demo_copy / "policies/global/naming/pipe.rego")
    run = govern_process(command, cwd=demo_copy, timeout=60)
    problem = "policies/global/naming/pipe.rego: cannot read policy: not a regular file (a named pipe, a device or a socket)\n"
    if command == "validate":  # (one of the problems it lists)
        assert (run.code, run.out, run.err) == (3, problem, "1 problem found\n")
    else:
        assert (run.code, run.out) == (3, "")
        assert run.err.endswith(problem)


def test_the_lineage_view_says_what_of_the_mesh_it_could_not_see(govern, demo_copy, unlistable, latin1_names):
    run = govern("lineage", cwd=demo_copy)  # (the mesh of govern.toml)
    assert run.code == 3 and "orders_returns" in run.out
    assert sorted(run.err.splitlines()) == sorted(f"error: {line}" for line in [unlistable, *latin1_names])


def test_a_history_held_by_another_audit_is_named_busy_not_unusable(tmp_path):
    """(Waiting out the 30 s lock for real is left to the reader: this is what the wait ends in.)"""
    from engine.history import _unusable

    store = tmp_path / "history.sqlite"
    busy = _unusable(sqlite3.OperationalError("database is locked"), store)
    why = "the history database is in use by another process (database is locked, for 30 s): try again later"
    assert str(busy) == f"{store}: {why}"
    damaged = _unusable(sqlite3.DatabaseError("database disk image is malformed"), store)
    assert "move it aside" in str(damaged)
