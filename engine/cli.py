"""The ``govern`` command line: wiring and exit codes only."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from engine import entry
from engine.config import display
from engine.errors import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ConfigError,
    ConfigErrors,
    GovernError,
    UsageError,
    by_place,
    reason,
)
from engine.model import ENFORCEMENT_RANK, FAIL_ON, Report
from engine.report import one_line

REPORT_FORMATS = ["text", "json", "markdown", "sarif", "junit", "html"]
LINEAGE_FORMATS = ["text", "json", "dot"]
CATALOG_FORMATS = ["text", "json", "markdown"]
# The format an --output file's name asks for when --format is not given (text otherwise).
EXTENSIONS = {".json": "json", ".sarif": "sarif", ".xml": "junit", ".md": "markdown", ".html": "html", ".dot": "dot"}
# Files of a kind no format is (a picture, a spreadsheet): an --output named so, without --format,
# is a usage error rather than a file of text under that name (any other name gets text).
FOREIGN = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".csv", ".tsv", ".xlsx", ".docx", ".yaml", ".yml", ".toml"}
# The most products a process of an audit holds at once (--batch): about 0.4 GiB of loaded
# models, however large the mesh (engine/shards.py; in the parent, engine/gather/targets.py).
BATCH = 2000


# engine.model.Category's values (that module is imported only by the commands that need it)
CATEGORIES = ["naming", "access", "classification", "standard-fields", "contracts", "lineage"]


def _parse_now(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # (0001-01-01T00:00+14:00 is before the first UTC time)
        raise click.BadParameter(f"{value!r} is not an RFC 3339 time, e.g. 2027-01-31T00:00:00Z") from None


class _Path(click.Path):
    """A path parameter that refuses an empty value, which pathlib reads as the current folder (a
    report would be written to ``.``, a check would check it)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value:
            self.fail("an empty path", param, ctx)
        return super().convert(value, param, ctx)


class _Store(_Path):
    """``--store``: an SQLite file, or a PostgreSQL database named by its URL (kept as the text)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from engine.history import is_url

        return value if is_url(value) else super().convert(value, param, ctx)


# A folder named by an option (--policies, --governance, --mesh): one that does not exist is a usage
# error, as for a PATH (a misspelt --mesh made a check report every upstream as not in the mesh).
FOLDER = _Path(exists=True, file_okay=False)

STORE_HELP = (
    "History database: an SQLite file, or a PostgreSQL URL (postgresql://user@host/db) [env var: GOVERN_STORE;"
    " default: MESH/.govern/history.sqlite]."
)


class _Output(_Path):
    """``--output FILE``; ``-`` is standard output, as for most command-line tools."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path, allow_dash=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "-":
            return None
        path = super().convert(value, param, ctx)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):  # (found now, not after a whole audit was run and stored)
            self.fail(f"{str(value)!r}: there is no folder {folder} to write it in", param, ctx)
        return path


def _database(path: Path) -> bool:
    """Whether ``path`` is a regular file that holds an SQLite database (a report must not replace one)."""
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _percent(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 100:  # (also nan, which no comparison holds for)
        raise click.BadParameter(f"{value!r} is not a percentage from 0 to 100")
    return number


def _paths_exist(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
    """Paths that exist, or are at least links: a broken or looping link is a load error (exit 3)
    naming the file, not a usage error."""
    for path in value:
        if not os.path.lexists(path):
            raise click.BadParameter(f"{str(path)!r} does not exist.")
    return value


def _fail(error: GovernError) -> None:
    click.echo("\n".join([f"error: {one_line(error.headline)}", *(f"  {one_line(d)}" for d in error.details)]), err=True)
    sys.exit(error.exit_code)


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """User-caused errors become a one-line message and their exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GovernError as e:
            _fail(e)

    return wrapper


def _interrupted(message: str) -> NoReturn:
    """Say how the run was interrupted (Ctrl-C, SIGTERM: engine/entry.py) and exit 130."""

    def write() -> None:
        with contextlib.suppress(OSError):  # (standard error closed: the exit code still says it)
            click.echo(message, err=True)

    entry.say(write)
    sys.exit(EXIT_INTERRUPTED)


class _Group(click.Group):
    """The command group: Ctrl-C (or SIGTERM) in a command, or while click reads its options (a
    parameter's check may import what it needs), says "interrupted" and exits 130, the workers
    stopped on the way out (engine.parallel), rather than click's "Aborted!" and exit 1."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:  # (the group's own options: --version)
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            _interrupted("interrupted")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _interrupted("interrupted")


def format_option(choices: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--format, whose default is what the --output file's extension names (see :func:`_format`)."""
    shown = ", ".join(f"{kind} for {ext}" for ext, kind in EXTENSIONS.items() if kind in choices)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        help=f"Output format [default: text, or by the --output file's extension: {shown}].",
    )


def _format(fmt: str | None, output: Path | None, choices: list[str]) -> str:
    """--format as given, else the one the --output file's name ends in, else text (a report
    written to report.sarif was text). A name ending in a format the command does not write
    (`govern lineage -o mesh.html`), or in a kind of file no format is (`mesh.svg`), is a usage
    error: text written there would open as a broken file."""
    if fmt is not None:
        return fmt
    if output is None or str(output) == "-":
        return "text"
    extension = output.suffix.lower()
    found = EXTENSIONS.get(extension)
    if found in choices:
        return found
    if found is not None or extension in FOREIGN:
        command = f"govern {click.get_current_context().info_name}"
        raise UsageError(
            f"--output {display(output)}: {command} writes no {extension} file (its formats: {', '.join(choices)});"
            " give --format, or name the file for one of them"
        )
    return "text"


FAIL_ON_OPTION = click.option(
    "--fail-on",
    type=click.Choice(list(FAIL_ON)),
    default="blocking",
    show_default=True,
    help="Exit 1 when an open finding is at or above this enforcement.",
)


def library_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--policies and --governance."""
    command = click.option(
        "--governance", metavar="DIR", type=FOLDER, help="Governance folder with council.yaml (default: from govern.toml)."
    )(command)
    return click.option(
        "--policies", metavar="DIR", type=FOLDER, help="Policy folder (default: from govern.toml, else ./policies)."
    )(command)


def location_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--policies, --governance and --mesh."""
    command = click.option(
        "--mesh", metavar="DIR", type=FOLDER, help="Mesh root, for contracts and lineage (default: from govern.toml)."
    )(command)
    return library_options(command)


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--engine, --opa-url and --jobs."""
    from engine.backends import ENGINES

    command = click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        metavar="N",
        help="Worker processes that parse files and evaluate rules (default: the number of cores).",
    )(command)
    command = click.option(
        "--opa-url",
        "opa_urls",
        multiple=True,
        metavar="URL",
        help="OPA server for --engine opa (repeatable: products are spread over the servers).",
    )(command)
    return click.option(
        "--engine",
        "engine_name",
        type=click.Choice(ENGINES),
        default="embedded",
        show_default=True,
        help="embedded (regorus), opa (OPA servers, or an opa binary on PATH), reference (the OPA Go library).",
    )(command)


def lineage_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--dbt-manifest",
                "dbt_manifests",
                multiple=True,
                type=_Path(exists=True, path_type=Path),
                help="Add lineage from a dbt manifest.json (or the manifest*.json files of a folder). Repeatable.",
            ),
            click.option(
                "--openlineage",
                "openlineage",
                multiple=True,
                type=_Path(exists=True, path_type=Path),
                help="Add lineage from OpenLineage events: a JSON event, a JSON list, NDJSON, or a folder. Repeatable.",
            ),
            click.option(
                "--lineage-map",
                type=_Path(exists=True, dir_okay=False, path_type=Path),
                help="YAML mapping of dataset name patterns to product ids (default: lineage_map in govern.toml).",
            ),
        ]
    ):
        command = option(command)
    return command


def add_imported_lineage(
    mesh: Any, dbt_manifests: tuple[Path, ...], openlineage: tuple[Path, ...], lineage_map: Path | None
) -> list[str]:
    """Import dbt / OpenLineage lineage into the mesh; returns the problems, each naming its file.

    Skipped files (empty, templated) are reported on standard error and are not problems.
    """
    if not dbt_manifests and not openlineage:
        return []
    from engine.gather.imported import LineageMap, import_lineage, product_edges

    if mesh is None:
        click.echo("warning: no product of a mesh is checked, so imported lineage is not used", err=True)
        return []
    imported = import_lineage(dbt_manifests, openlineage)
    datasets = LineageMap.load(lineage_map)
    imported.errors.extend([*imported.dangling_hints(mesh), *datasets.dangling(mesh)])
    edges, mapped = product_edges(imported, mesh, datasets)
    mesh.add_imported(edges)
    for skipped in imported.skipped:
        click.echo(one_line(f"skipped {skipped.path}: {skipped.reason}"), err=True)
    click.echo(
        f"imported lineage: {imported.files} file(s), {imported.events} OpenLineage event(s), "
        f"{imported.graph.number_of_nodes()} datasets ({len(mapped)} mapped to products), "
        f"{len(edges)} product edge(s)",
        err=True,
    )
    return [str(e) for e in sorted(imported.errors, key=by_place)]


def run() -> None:
    """The ``govern`` command: :func:`main`, then an immediate exit with its code.

    Output is flushed, cache entries not yet written are written, and every file, store and worker
    pool was closed by the command itself, so the interpreter's teardown (unloading some hundreds
    of modules, a tenth of a ``govern check``) is skipped, unless a profiler or tracer (cProfile,
    coverage) is running and needs it to write its results. Tests call :func:`main` in-process and
    are unaffected.
    """
    entry.install()  # (again, for a caller that did not start with engine.entry.run)
    try:
        _run()
    except KeyboardInterrupt:  # (after the command said what it had to, or before it began)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        entry.leave()


def _run() -> NoReturn:
    _fill_closed_descriptors()
    # A report holds characters (✗, ·) that a terminal of a legacy encoding (PYTHONIOENCODING,
    # a latin-1 locale) cannot show: they are written as "?" rather than failing the run.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    try:
        os.getcwd()  # (every path is shown relative to it)
    except OSError as e:  # a folder removed under the shell that started govern
        print(f"error: cannot use the current folder: {reason(e)}; cd into one that exists", file=sys.stderr)
        os._exit(EXIT_ERROR)
    try:
        main()
        code = 0
    except SystemExit as e:
        if isinstance(e.code, int) or e.code is None:
            code = e.code or 0
        else:  # sys.exit("message"), as Python would: the message on standard error, exit 1
            print(e.code, file=sys.stderr)
            code = 1
    stored = sys.modules.get("engine.cache")
    if stored is not None:
        stored.release()  # what the run stored and has not written yet: atexit will not run
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # (started with it closed: govern check >&-)
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (govern check | head): nothing more to say
            code = code or EXIT_ERROR
    if _observed():
        sys.exit(code)
    os._exit(code)


def _fill_closed_descriptors() -> None:
    """Open the null device on standard input, output or error when the run started with one of
    them closed (``2>&-``): the next file opened would take its number, and what a library writes
    to it (a Rust panic's message, to standard error) would land in that file. Python's own
    ``sys.stdout`` stays None then, so a report for standard output is still refused."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # (the lowest free descriptor: this one)


def _observed() -> bool:
    """Whether a profiler or tracer is running: one set with sys.setprofile or sys.settrace, or a
    tool of sys.monitoring (Python 3.12 and newer: cProfile, and coverage with its sysmon core)."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="govern", prog_name="govern")
def main() -> None:
    """Federated computational governance for a data mesh.

    The council's Rego rules, tuned by domains within the council's limits, evaluated over data
    product descriptors, ODCS data contracts and lineage.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=_Path(path_type=Path), callback=_paths_exist)
@location_options
@format_option(REPORT_FORMATS)
@click.option("--output", "-o", type=_Output(), help="Write the report to FILE (- for standard output).")
@click.option(
    "--baseline",
    type=_Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON report of an earlier run: its findings (by fingerprint) are shown but do not count for the exit code.",
)
@FAIL_ON_OPTION
@engine_options
@click.option("--now", callback=_parse_now, metavar="RFC3339", help="Evaluate as of this time (waivers, effective dates).")
@lineage_options
@click.option(
    "--index/--no-index",
    default=True,
    show_default=True,
    help="Load only the checked products' lineage neighbours, found with the mesh index in MESH/.govern/ "
    "(kept up to date as files change); --no-index loads the whole mesh.",
)
@handles_errors
def check(
    paths: tuple[Path, ...],
    policies: str | None,
    governance: str | None,
    mesh: str | None,
    fmt: str | None,
    output: Path | None,
    fail_on: str,
    engine_name: str,
    opa_urls: tuple[str, ...],
    jobs: int | None,
    now: datetime,
    dbt_manifests: tuple[Path, ...],
    openlineage: tuple[Path, ...],
    lineage_map: Path | None,
    baseline: Path | None,
    index: bool,
) -> None:
    """Check data products before publishing them.

    PATH is a product descriptor, a product folder, a folder of products (a mesh), or a standalone
    ODCS contract file (contract rules only). Exit codes: 0 nothing at or above --fail-on, 1
    findings at or above it, 2 usage error, 3 something could not be loaded or evaluated.
    """
    from engine.config import load_settings
    from engine.gather.targets import in_configured, outside, paths_without

    fmt = _format(fmt, output, REPORT_FORMATS)
    settings = load_settings(policies, governance, mesh, lineage_map=lineage_map)
    paths = in_configured(list(paths), settings.mesh)
    elsewhere = outside(list(paths), settings.mesh) if mesh is not None else []
    if elsewhere:  # (each would be checked as a mesh of its own, its upstreams not in it: CON-007)
        shown = ", ".join(display(p) for p in elsewhere)
        raise UsageError(f"{shown} is not inside the mesh {display(mesh)} (--mesh): check what lies in it, or leave --mesh out")
    _refuse_own_files(output, *_kept_in(settings.mesh, *(p for p in paths if p.is_dir())))
    report = _evaluate(
        "check",
        settings,
        list(paths),
        settings.mesh,
        (engine_name, opa_urls, jobs),
        now,
        (dbt_manifests, openlineage, lineage_map),
        use_index=index,
    )
    # (a folder with no product in it, say: a gate that checks nothing must not pass, not even beside others)
    empty = paths_without(list(paths), [p.source for p in report.products])
    if empty:
        shown = ", ".join(display(p) for p in empty)
        raise UsageError(f"nothing to check in {shown}: no data product descriptor or data contract found")
    if baseline is not None:
        known = _baseline_fingerprints(baseline)
        for f in report.findings:  # (a report of govern before 0.2 has the positional fingerprints)
            f.baseline = f.fingerprint in known or f.positional_fingerprint in known
    _emit(report, fmt, output, fail_on)
    sys.exit(exit_code(report, fail_on))


def _baseline_fingerprints(path: Path) -> set[str]:
    from engine.errors import LoadError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise LoadError(f"cannot read the baseline report: {reason(e)}", path) from None
    except json.JSONDecodeError as e:
        raise LoadError(f"the baseline is not JSON: {e.msg}", path, e.lineno) from None
    except RecursionError:  # (the standard library's parser is recursive)
        raise LoadError("the baseline is JSON nested too deeply to read", path) from None
    except ValueError:  # (a number of more digits than Python reads)
        from engine.gather.imported import TOO_LONG, too_long_at

        line = too_long_at(path.read_text(encoding="utf-8"))
        raise LoadError(f"the baseline holds {TOO_LONG}, too long to read", path, line) from None
    if not isinstance(data, dict) or data.get("schema") != "govern.report/v1" or not isinstance(data.get("findings"), list):
        raise LoadError("the baseline is not a govern.report/v1 JSON report (govern check --format json)", path)
    return {f["fingerprint"] for f in data["findings"] if isinstance(f, dict) and isinstance(f.get("fingerprint"), str)}


def exit_code(report: Report, fail_on: str) -> int:
    """3 when anything could not be loaded or evaluated, else 1 when an open finding reaches --fail-on
    (findings of a --baseline report do not count)."""
    if report.errors or report.summary.verdicts.error:
        return EXIT_ERROR
    threshold = FAIL_ON[fail_on]
    counted = report.summary.findings.by_enforcement
    if not any(n and ENFORCEMENT_RANK[enforcement] >= threshold for enforcement, n in counted.items()):
        return EXIT_OK  # (without reading an audit's findings back from its spool)
    if any(f.status == "open" and not f.baseline and ENFORCEMENT_RANK[f.enforcement] >= threshold for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def _emit(report: Report, fmt: str, output: Path | None, fail_on: str) -> None:
    from engine.report import writer

    color = output is None and sys.stdout is not None and sys.stdout.isatty()
    options = {"fail_on": fail_on} if fmt == "junit" else {}  # (its failures are the gate's)
    _write(output, writer(fmt)(report, color=color, **options))
    if output is not None:
        _say_errors(report, output)


def _say_errors(report: Report, output: Path) -> None:
    """What made the run fail to vouch for the mesh (exit 3), on standard error too when the report
    went to a file: a scheduled run's log would otherwise show an exit code and no reason."""
    shown = 10
    for error in report.errors[:shown]:
        click.echo(f"error: {one_line(error)}", err=True)
    if len(report.errors) > shown:
        click.echo(f"error: ... and {len(report.errors) - shown} more", err=True)
    if errored := report.summary.verdicts.error:
        said = 0
        for product in report.products:  # (the first few, with their first reason)
            if product.verdict == "error" and product.errors:
                click.echo(f"error: {one_line(product.named_errors()[0])}", err=True)
                said += 1
                if said == shown:
                    break
        products = f"{errored} product{'s' if errored != 1 else ''}"
        click.echo(f"error: {products} could not be loaded or evaluated: see {one_line(output)}", err=True)


def _write(output: Path | None, text: str | Iterable[bytes]) -> None:
    """Write a report to ``output`` (standard output when None): a text, or pieces of UTF-8."""
    if output is None:
        if sys.stdout is None:  # started with standard output closed: the report would be lost
            raise GovernError("cannot write the report: standard output is closed (give --output FILE)")
        try:
            for piece in [text] if isinstance(text, str) else _joined(text):
                click.echo(piece, nl=False)  # (bytes go to the binary stream beneath)
        except BrokenPipeError:  # a reader that stopped (govern check | head): nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_ERROR)
        except OSError as e:  # a full disk, say
            raise GovernError(f"cannot write the report to standard output: {e.strerror}") from None
        return
    pieces = [text.encode()] if isinstance(text, str) else _joined(text)
    try:
        # (through a link, its target is replaced: the link stays, and a failed write leaves the
        # earlier report there too)
        target = Path(os.path.realpath(output)) if os.path.islink(output) else output
        if os.path.lexists(target) and not os.path.isfile(target):
            with output.open("wb") as f:  # (a device, a pipe: written through, as named)
                f.writelines(pieces)
        else:
            _replace(target, pieces)
    except OSError as e:
        raise GovernError(f"cannot write {output}: {e.strerror}", output) from None
    click.echo(f"wrote {one_line(output)}", err=True)


def _kept_in(*meshes: Path | None) -> list[Path]:
    """The files govern keeps in these meshes: each one's index and default history."""
    from engine.gather.index import INDEX_PATH

    return [file for mesh in meshes if mesh is not None for file in (mesh / INDEX_PATH, mesh / ".govern" / "history.sqlite")]


def _refuse_own_files(output: Path | None, *kept: Path | str | None) -> None:
    """An --output that names a file govern keeps (the history, a mesh index, the cache) would
    destroy it with a report: a usage error before anything is run."""
    if output is None:
        return
    from engine import cache
    from engine.gather.index import INDEX_PATH

    folder = cache.folder()
    files = [*kept, folder / cache.DATABASE if folder is not None else None]
    names = {INDEX_PATH.name: "the mesh index", cache.DATABASE: "govern's cache"}
    target = os.path.realpath(output)
    for f in files:
        if isinstance(f, Path) and os.path.realpath(f) == target:
            what = names.get(f.name, "the history")
            also = "" if display(f) == display(output) else f" ({display(f)})"
            raise UsageError(f"--output {display(output)} is {what}{also}: name another file for the report")
    if _database(output):  # (a history, an index or a cache of another mesh or store: lost as well)
        why = "is an SQLite database (a history, a mesh index, a cache)"
        raise UsageError(f"--output {display(output)} {why}: name another file for the report")


def _replace(output: Path, pieces: Iterable[bytes]) -> None:
    """Write a file beside ``output`` and rename it over ``output`` once whole: a write that fails
    (a full disk, an interruption) leaves the earlier report as it was, never half of the new one.
    The file is named with the writing process (``.<name>.<pid>.<random>.tmp``): one left by a
    process that is gone (killed with SIGKILL while it wrote) is removed by the next write."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(output))
    _remove_abandoned(folder, output.name)
    fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with open(fd, "wb") as f:
            f.writelines(pieces)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(partial, 0o666 & ~mask)  # (as a file opened for writing would be; mkstemp's is 0600)
        os.replace(partial, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _remove_abandoned(folder: str, name: str) -> None:
    """Remove the partial reports of ``name`` in ``folder`` whose writing process is gone."""
    prefix = f".{name}."
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return
    for partial in entries:
        pid = partial.name[len(prefix) :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or not partial.is_file(follow_symlinks=False):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(partial.path)
        except (PermissionError, OverflowError):  # (alive, another user's; or no process number)
            continue


def _joined(pieces: Iterable[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """The pieces joined into writes of about ``size`` bytes (a small report is one write)."""
    pending: list[bytes] = []
    held = 0
    for piece in pieces:
        pending.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


@main.command()
@click.argument("mesh_dir", metavar="[MESH]", required=False, type=_Path(exists=True, file_okay=False, path_type=Path))
@location_options
@format_option(REPORT_FORMATS)
@click.option("--output", "-o", type=_Output(), help="Write the report to FILE (- for standard output).")
@FAIL_ON_OPTION
@engine_options
@click.option("--now", callback=_parse_now, metavar="RFC3339", help="Evaluate as of this time (waivers, effective dates).")
@click.option("--store", type=_Store(), envvar="GOVERN_STORE", help=STORE_HELP)
@click.option("--no-store", is_flag=True, help="Neither read nor write the history (no changes, no trend).")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=BATCH,
    show_default=True,
    help="Load at most this many products at a time in a process, so memory does not grow with the mesh.",
)
@lineage_options
@handles_errors
def audit(
    mesh_dir: Path | None,
    policies: str | None,
    governance: str | None,
    mesh: str | None,
    fmt: str | None,
    output: Path | None,
    fail_on: str,
    engine_name: str,
    opa_urls: tuple[str, ...],
    jobs: int | None,
    now: datetime,
    store: Path | str | None,
    no_store: bool,
    dbt_manifests: tuple[Path, ...],
    openlineage: tuple[Path, ...],
    lineage_map: Path | None,
    batch: int,
) -> None:
    """Audit the whole mesh: every product of every domain, scores, changes since the last audit.

    The run is stored in the history database (one transaction at the end, so an interrupted
    audit leaves earlier runs intact) and compared with the previous audit of the same mesh by
    finding fingerprint. Exit codes as for check.
    """
    from engine.config import load_settings

    fmt = _format(fmt, output, REPORT_FORMATS)
    if no_store and click.get_current_context().get_parameter_source("store") is click.core.ParameterSource.COMMANDLINE:
        raise UsageError("--no-store and --store together: give one (GOVERN_STORE is left unused by --no-store)")
    if mesh_dir is not None and mesh is not None and os.path.realpath(mesh_dir) != os.path.realpath(mesh):
        raise UsageError(f"two meshes to audit: {display(mesh_dir)} and --mesh {display(mesh)}; give one")
    settings = load_settings(policies, governance, mesh_dir or mesh, lineage_map=lineage_map)
    root = _mesh_root(mesh_dir, settings)
    if mesh_dir or mesh:
        _refuse_part_of_mesh("audit", root, policies, governance, lineage_map)
    history = store or root / ".govern" / "history.sqlite"
    project = settings.source.parent if settings.source else None  # (a PostgreSQL store knows a mesh by its path in it)
    from engine.gather.index import INDEX_PATH

    _refuse_own_files(output, history, root / INDEX_PATH)
    # (left as found when nothing is audited)
    created = [p for p in (history, root / ".govern") if isinstance(p, Path) and not os.path.lexists(p)]
    if not no_store:
        from engine.history import History, mesh_key

        stored = History(history)  # an unusable history stops the audit before the mesh is evaluated
        try:
            stored.verify(mesh_key(root, history, project))
        finally:
            stored.close()
    imports = (dbt_manifests, openlineage, lineage_map)
    from engine.gather.index import IndexDamaged

    try:
        report = _evaluate("audit", settings, [root], root, (engine_name, opa_urls, jobs), now, imports, batch=batch)
    except IndexDamaged as e:
        # Pages found damaged halfway through (verifying every page first would cost every audit
        # a few percent): the index goes, so the next run builds it anew.
        (root / INDEX_PATH).unlink(missing_ok=True)
        why = f"the mesh index is damaged ({e.why}): it was removed; run the audit again, which rebuilds it"
        raise GovernError(why, e.file) from None
    if not report.products and not report.errors:  # (a wrong folder, say: an audit of nothing is not stored as passed)
        for path in created:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise UsageError(f"nothing to audit in {display(root)}: no data product descriptor or data contract found")
    if not no_store:
        _remember(report, root, history, project)
    try:
        _emit(report, fmt, output, fail_on)
    except KeyboardInterrupt:
        if no_store:
            raise
        # (a retried run would be compared with this one: its new findings would not show as new)
        from engine.history import shown_store

        where = one_line(shown_store(history))
        _interrupted(f"interrupted after the run was stored in {where} (run {report.run.id}); its report was not written")
    from engine import cache

    cache.prune()  # entries unused for a month, once a day: the cache would otherwise only grow
    sys.exit(exit_code(report, fail_on))


def _unreadable(index: Any, mesh: Any) -> list[tuple[str, str]]:
    """What of the mesh went unchecked (folders it could not list, names that are not UTF-8), and
    why: that of an audit's index, or that among a check's paths (engine.gather.targets.check_targets)."""
    return index.unreadable if index is not None else mesh.unreadable if mesh is not None else []


def _unchecked_errors(unchecked: list[tuple[str, str]]) -> list[str]:
    return [f"{display(Path(folder))}: {why}" for folder, why in unchecked]


def _refuse_part_of_mesh(command: str, root: Path, policies: str | None, governance: str | None, lineage_map: Any) -> None:
    """A folder inside govern.toml's mesh, given as a mesh to audit or draw: what its products read
    from the rest of the mesh would be "not in the mesh" (a check judges them within the mesh)."""
    from engine.config import load_settings

    try:
        configured = load_settings(policies, governance, lineage_map=lineage_map).mesh
    except GovernError:  # (a wrong mesh key, which MESH replaces: no mesh to compare with)
        return
    whole = os.path.realpath(configured) if configured is not None else ""
    if whole and os.path.realpath(root).startswith(whole + os.sep):
        instead = f"or check {display(root)}" if command == "audit" else "with --product P for one product's neighbours"
        raise UsageError(
            f"{display(root)} lies inside the mesh {display(configured)} (govern.toml): {command} takes a whole mesh;"
            f" {command} {display(configured)}, {instead}"
        )


def _mesh_root(given: Path | None, settings: Any) -> Path:
    """The mesh of an audit or lineage: MESH (click checked it exists), else govern.toml's mesh."""
    if given is not None:
        return given
    if settings.mesh is None:
        raise UsageError("no mesh: give MESH or set mesh in govern.toml")
    return settings.mesh  # (a folder: load_settings refuses one that is not)


def _evaluate(
    command: str,
    settings: Any,
    paths: list[Path],
    mesh_root: Path | None,
    engine_spec: tuple[str, tuple[str, ...], int | None],
    now: datetime,
    imports: tuple[tuple[Path, ...], tuple[Path, ...], Path | None],
    batch: int | None = None,
    use_index: bool = False,
) -> Report:
    """What check and audit share: validate the configuration, gather, evaluate, build the report.

    An audit (``batch`` given) evaluates the whole mesh and adds its lineage graph to the report.
    Without imported lineage, it is evaluated a batch at a time: in the workers when the embedded
    engine is spread over them (engine/shards.py), else in this process when the mesh has more
    than ``batch`` products."""
    started = datetime.now(UTC)  # (the report's started_at)
    from engine.backends import make_engine
    from engine.evaluate import Evaluator
    from engine.gather.index import MeshIndex, refresh
    from engine.gather.mesh import Mesh
    from engine.gather.targets import batched_targets, check_targets
    from engine.governance import load_governance
    from engine.model import EngineInfo
    from engine.parallel import Workers, default_jobs
    from engine.policy.federation import ensure_valid
    from engine.policy.library import load_library
    from engine.report.build import build_report

    library = load_library(settings.policies)
    gov = load_governance(settings.governance)
    ensure_valid(library, gov, now)
    engine_name, opa_urls, jobs = engine_spec
    with Workers(jobs or default_jobs()) as workers:
        workers.configure([(m.file, m.source) for m in library.modules], gov.data(), settings.rule_time_limit)
        dbt_manifests, openlineage, lineage_map = imports
        # Imported lineage adds edges the index does not know of: then the whole mesh is loaded.
        imported = bool(dbt_manifests or openlineage)
        use_index = use_index and not imported
        whole_mesh = batch is not None
        root = Path(os.path.abspath(paths[0]))
        found_mesh: Mesh | None = None
        index: MeshIndex | None = None
        products = 0
        # An audit is evaluated batch by batch in the workers when the embedded engine is spread
        # over them (engine/shards.py); else a mesh larger than a batch is loaded here in batches.
        # Both take the batches and the facts linking them from the mesh index.
        shardable = whole_mesh and engine_name == "embedded" and not imported
        if whole_mesh:
            if shardable and workers.jobs > 1:
                # Batches are evaluated in the workers (engine/shards.py), forked before the
                # index is read: they never hold a copy of it.
                from engine.shards import start

                start(workers, library, gov, now, root, settings.rule_time_limit)
            # An audited mesh is indexed: for its batches, and for the checks that follow. Files
            # it reads are then restored from the cache wherever they are loaded again.
            index = refresh(root, [], workers)
            products = 0 if imported else index.products
        # (products is 0 for a check and with imported lineage: those are loaded whole.)
        in_workers = shardable and not workers.in_parent(products)
        if in_workers or (batch is not None and products > batch):
            total, import_errors, shown = products, [], display(root)
        else:
            index = None  # loaded whole, below
            # (the products waivers name: one the mesh does not have is listed with its domain's)
            waived = {w.product for df in gov.domains.values() for w in df.config.waivers}
            found_mesh, targets = check_targets(paths, mesh_root, workers, use_index=use_index, asked=waived)
            import_errors = add_imported_lineage(found_mesh, dbt_manifests, openlineage, settings.lineage_map)
            total, shown = len(targets), display(found_mesh.root) if found_mesh else None
        # An audit's results, findings and product graph go to a spool on disk as batches arrive.
        spool = None
        if whole_mesh:
            from engine.spool import Spool

            spool = Spool()
        # Only the embedded engine evaluates in the workers: OPA servers have their own concurrency,
        # and the OPA Go library must not be forked after it is loaded.
        engine = make_engine(engine_name, opa_urls, workers if engine_name == "embedded" else None, settings.rule_time_limit)
        try:
            evaluator = Evaluator(library, gov, engine, found_mesh, now)
            with _progress(total if whole_mesh else 0) as advance:
                each = spool.add_graph if spool is not None else None
                if index is None:
                    parts = evaluator.parts([(found_mesh, targets)], advance, each)
                elif in_workers:
                    from engine.shards import evaluate_in_workers, shard_size

                    assert spool is not None  # (workers evaluate audits only)
                    size = shard_size(products, workers.jobs, batch or products)
                    parts = evaluate_in_workers(workers, evaluator, index, size, spool, advance)
                else:
                    parts = evaluator.parts(batched_targets(index, workers, batch or products), advance, each)
                # (a check of the whole mesh folder lists every waiver, as an audit does: one naming
                # a product the mesh does not have is unused, not left out)
                mesh_root_checked = mesh_root is not None and os.path.abspath(mesh_root) in map(os.path.abspath, paths)
                absent = found_mesh.absent if found_mesh is not None else set()
                outcome = evaluator.outcome(parts, whole_mesh or mesh_root_checked, spool, absent)
        finally:
            engine.close()
    unchecked = _unreadable(index, found_mesh)
    report = build_report(
        command=command,
        now=now,
        started=started,
        engine=EngineInfo(name=engine.name, version=engine.version),
        policies_digest=library.digest,
        governance_digest=gov.digest,
        mesh=shown,
        products=outcome.results,
        findings=outcome.findings,
        rules=outcome.rules,
        waivers=outcome.waivers,
        errors=import_errors + _unchecked_errors(unchecked),
        catalog=outcome.catalog,
    )
    report.unchecked = [os.path.abspath(folder) for folder, _ in unchecked]
    if spool is not None:
        from engine.model import Graph

        report.lineage = Graph()
        report.lineage.nodes, report.lineage.edges = spool.nodes, spool.edges  # type: ignore[assignment]
    return report


def _remember(report: Report, root: Path, store: Path | str, project: Path | None) -> None:
    """Compare with the previous audit, add the trend, and store this run; a store failure is a report error."""
    from engine.history import History, Products, mesh_key

    try:
        history = History(store)
    except GovernError as e:  # (locked or damaged since the audit began: the report is still written)
        report.errors.append(str(e))
        return
    try:
        key = mesh_key(root, store, project)
        products, previous = Products.of(report, root), history.previous(key, report.run.now)
        previous = history.in_current_terms(previous, report)
        report.changes = history.changes(key, report, products, previous)
        report.trend = history.trend(key, report)
        history.record(key, report, products, previous)
    except GovernError as e:  # (the report is still written, with this error: exit 3)
        report.errors.append(str(e))
    finally:
        history.close()


class _progress:
    """A rich progress bar on standard error when it is a terminal (and there is a total); nothing otherwise."""

    def __init__(self, total: int):
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Callable[[str], None]:
        if not self.total or sys.stderr is None or not sys.stderr.isatty():
            return lambda product: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("", total=self.total)
        return lambda product: self.bar.update(task, advance=1, description=product)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@main.command()
@click.argument("mesh_dir", metavar="[MESH]", required=False, type=_Path(exists=True, file_okay=False, path_type=Path))
@click.option("--store", type=_Store(), envvar="GOVERN_STORE", help=STORE_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Show the last N audits.")
@handles_errors
def history(mesh_dir: Path | None, store: Path | str | None, fmt: str, limit: int) -> None:
    """Stored audits of the mesh with their scores, and each domain's trend."""
    from engine.config import load_settings
    from engine.history import History, mesh_key, shown_store
    from engine.report.history import render_history

    # (given only --store, every mesh of that store: govern.toml's mesh is not looked at)
    settings = load_settings() if mesh_dir is None and store is None or isinstance(store, str) else None
    root = mesh_dir or (settings.mesh if settings is not None and store is None else None)
    if root is None and store is None:
        raise UsageError("no mesh: give MESH, --store, or set mesh in govern.toml")
    path = store or root / ".govern" / "history.sqlite"  # type: ignore[operator]
    if isinstance(path, Path) and not path.is_file():
        raise UsageError(f"no audit history at {path} (run govern audit first)")
    db = History(path, writing=False)
    shown = shown_store(path) if isinstance(path, str) else path  # (a URL without its password)
    try:
        project = settings.source.parent if settings is not None and settings.source else None
        key = mesh_key(root, db.path, project) if root is not None else None
        runs = db.runs(key, limit)
        stored = db.meshes() if not runs else {}
    finally:
        db.close()
    if not runs:
        # (a mesh elsewhere than its store is known by its path: moved, its runs are under the old one)
        others = tuple(f"{mesh} ({n} audit{'s' if n != 1 else ''})" for mesh, n in stored.items())
        what = f"audits of {root.resolve()}" if root is not None else "audits"
        raise UsageError(f"no {what} stored in {shown}" + ("; it holds audits of:" if others else ""), details=others)
    click.echo(render_history(runs, fmt, named=root is None), nl=False)


@main.command()
@library_options
@click.option("--now", callback=_parse_now, metavar="RFC3339", help="Judge waiver lengths as of this time.")
@click.option(
    "--tests", metavar="DIR", type=FOLDER, help="Rego unit tests, each rule's looked for (default: policy_tests of govern.toml)."
)
@handles_errors
def validate(policies: str | None, governance: str | None, now: datetime, tests: str | None) -> None:
    """Validate the council's and the domains' configuration, domain policies and waivers.

    Prints every problem with file:line. Exit 0 when the configuration is valid, 3 when not.
    """
    from engine.config import load_settings
    from engine.governance import load_governance
    from engine.policy.federation import validate as validate_config
    from engine.policy.library import load_library
    from engine.testing import untested_in

    settings = load_settings(policies, governance)
    library = load_library(settings.policies)
    try:
        gov = load_governance(settings.governance)
    except ConfigError as e:  # (council.yaml: the domains are judged against it, so not without it)
        if e.file is None:  # (no council.yaml at all: an error, not a problem of a file)
            raise
        gov = None
        problems = [*library.problems, *(e.problems if isinstance(e, ConfigErrors) else [e])]
    else:
        problems = validate_config(library, gov, now)
    folder = Path(tests) if tests is not None else settings.policy_tests
    if folder.exists():
        problems += untested_in(library, folder)
    elif library.rules:
        where = "set policy_tests in govern.toml, or --tests" if settings.source else "name it with --tests"
        problems.append(
            ConfigError(
                f"no test folder {display(folder)}: every rule needs Rego unit tests ({where})",
                settings.source and display(settings.source),
            )
        )
    for problem in sorted(problems, key=by_place):
        click.echo(one_line(problem))
    if problems or gov is None:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        sys.exit(EXIT_ERROR)
    waivers = sum(len(d.config.waivers) for d in gov.domains.values())
    click.echo(
        f"valid: {len(library.rules)} rules, {len(gov.council.domains)} registered domains, "
        f"{len(gov.domains)} domain configurations, {waivers} waivers"
    )


@main.command()
@click.argument("mesh_dir", metavar="[MESH]", required=False, type=_Path(exists=True, file_okay=False, path_type=Path))
@format_option(LINEAGE_FORMATS)
@click.option("--product", metavar="P", help="Only P's upstream and downstream (its impact).")
@click.option("--output", "-o", type=_Output(), help="Write to FILE (- for standard output).")
@lineage_options
@handles_errors
def lineage(
    mesh_dir: Path | None,
    fmt: str | None,
    product: str | None,
    output: Path | None,
    dbt_manifests: tuple[Path, ...],
    openlineage: tuple[Path, ...],
    lineage_map: Path | None,
) -> None:
    """The mesh's product lineage: text tree, JSON nodes and edges, or dot.

    Edges come from declared input ports, plus those imported from dbt manifests and OpenLineage
    events (--dbt-manifest, --openlineage), mapped to products as docs/formats.md describes.
    """
    from engine.config import load_settings
    from engine.gather.mesh import load_mesh
    from engine.report.lineage import RENDERERS

    fmt = _format(fmt, output, LINEAGE_FORMATS)
    settings = load_settings(mesh=mesh_dir, lineage_map=lineage_map)
    root = _mesh_root(mesh_dir, settings)
    _refuse_own_files(output, *_kept_in(root))
    if mesh_dir is not None:
        _refuse_part_of_mesh("lineage", root, None, None, lineage_map)
    mesh = load_mesh(root)
    if not (mesh.products or mesh.contracts or mesh.failures or mesh.unreadable):  # (as check and audit say)
        raise UsageError(f"nothing in {display(root)}: no data product descriptor or data contract found")
    problems = add_imported_lineage(mesh, dbt_manifests, openlineage, settings.lineage_map)
    if product is not None and mesh.product(product) is None:
        from engine.gather.targets import declared_in

        broken = next((f for f in mesh.failures if product in declared_in(f)), None)
        if broken is not None:  # (not missing: its descriptor is there, and broken)
            raise GovernError(f"product {product!r} is declared in a file that could not be loaded: {broken.error}")
        raise UsageError(f"product {product!r} is not in the mesh {root}")
    if product is not None:
        product = mesh.product(product).product.id  # type: ignore[union-attr]
    unchecked = _unchecked_errors(_unreadable(None, mesh))
    for error in [*(str(failure.error) for failure in mesh.failures), *unchecked]:  # (drawn without it: exit 3)
        click.echo(f"error: {one_line(error)}", err=True)
    for problem in problems:
        click.echo(f"error: {one_line(problem)}", err=True)
    _write(output, RENDERERS[fmt](mesh, product))
    if mesh.failures or problems or unchecked:
        sys.exit(EXIT_ERROR)


def _regex(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as e:
            raise click.BadParameter(f"{value!r} is not a regular expression: {e}") from None
    return value


@main.command("test")
@click.argument("paths", nargs=-1, type=_Path(exists=True, path_type=Path))
@click.option("--policies", metavar="DIR", type=FOLDER, help="Policy folder (default: from govern.toml, else ./policies).")
@click.option("--verbose", "-v", is_flag=True, help="A line per test, not only the failures.")
@click.option("--run", "-r", "pattern", metavar="REGEX", callback=_regex, help="Only tests whose data.<package>.<name> matches.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--coverage", "-c", is_flag=True, help="Report line coverage of every policy file.")
@click.option(
    "--threshold",
    callback=_percent,
    metavar="PERCENT",
    help="Fail when total coverage is below PERCENT (implies --coverage; default: coverage_threshold in govern.toml).",
)
@click.option("--engine", "engine_name", type=click.Choice(["embedded", "opa"]), default="embedded", show_default=True)
@handles_errors
def test(
    paths: tuple[Path, ...],
    policies: str | None,
    verbose: bool,
    pattern: str | None,
    fmt: str,
    coverage: bool,
    threshold: float | None,
    engine_name: str,
) -> None:
    """Run the Rego unit tests (rules named test_*) in PATHs, default policy_tests/, and lint the library.

    Every rule package needs its annotation fields and a test module that imports it. A test that
    runs longer than rule_time_limit (govern.toml) is stopped, an error. Exit 0 when
    every test passes and the lint is clean (and coverage meets the threshold), 1 when not, 2 on
    usage errors, 3 when a policy or test cannot be loaded.
    """
    from engine.config import load_settings
    from engine.policy.library import load_library
    from engine.report.testrun import render_json, render_text
    from engine.testing import TestResults, lint, load_tests, mirrored, opa_test_argv

    settings = load_settings(policies)
    if paths:
        test_paths = list(paths)
    elif settings.policy_tests.exists():
        test_paths = [settings.policy_tests]
    else:
        raise UsageError(f"no test folder {display(settings.policy_tests)}: name the tests to run")
    coverage = coverage or threshold is not None
    if coverage and threshold is None:
        threshold = settings.coverage_threshold
    library = load_library(settings.policies)
    if engine_name == "opa":
        import subprocess

        argv = opa_test_argv(
            settings.policies,
            test_paths,
            verbose=verbose,
            pattern=pattern,
            fmt=fmt,
            coverage=coverage,
            threshold=threshold,
            time_limit=settings.rule_time_limit,
        )
        references = load_tests(settings.policies, test_paths, policy_tests=settings.policy_tests).references()
        problems = lint(library, references, test_paths)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        click.echo(proc.stdout, nl=False)
        click.echo(proc.stderr, nl=False, err=True)
        for problem in problems:
            click.echo(f"lint: {one_line(problem)}", err=True)
        # (opa test exits 2 when tests fail or coverage is below the threshold, 1 when it cannot
        # load the policies or tests: govern's codes for those are 1 and 3, as without --engine opa)
        code = {0: EXIT_OK, 2: EXIT_FINDINGS}.get(proc.returncode, EXIT_ERROR)
        sys.exit(code or (EXIT_FINDINGS if problems else EXIT_OK))
    run = load_tests(
        settings.policies, test_paths, coverage=coverage, policy_tests=settings.policy_tests, time_limit=settings.rule_time_limit
    )
    # Tests named inside the test folder answer for the part of the library they mirror: the lint
    # and the coverage are of that part (policy_tests/global/naming: policies/global/naming).
    scope = mirrored(test_paths, settings.policy_tests, settings.policies) if paths else None
    results = TestResults(
        tests=run.run(pattern),
        lint=lint(library, run.references(), test_paths, scope),
        coverage=run.coverage(scope) if coverage else None,  # (of the tests just run)
        threshold=threshold,
    )
    click.echo(render_json(results) if fmt == "json" else render_text(results, verbose), nl=False)
    sys.exit(EXIT_OK if results.ok else EXIT_FINDINGS)


def _governance_of(settings: Any, domains: bool) -> tuple[Any, list[str]]:
    """The governance the catalog shows the rules under (None without a council.yaml, for a policy
    library kept apart), and what of it could not be read (of the domains' files, when they are
    shown: the catalog shows the council's settings only)."""
    from engine.governance import load_governance

    if not (settings.governance / "council.yaml").is_file():
        return None, []
    try:
        governance = load_governance(settings.governance)
    except ConfigErrors as e:  # (each problem a line of its own)
        return None, [str(p) for p in e.problems]
    except GovernError as e:
        return None, [str(e)]
    return governance, [str(p) for p in governance.problems] if domains else []


@main.command()
@library_options
@format_option(CATALOG_FORMATS)
@click.option(
    "--category",
    multiple=True,
    type=click.Choice(CATEGORIES),
    help="Only rules of this category (repeatable).",
)
@click.option("--output", "-o", type=_Output(), help="Write the catalog to FILE (- for standard output).")
@handles_errors
def policies(
    policies: str | None, governance: str | None, fmt: str | None, category: tuple[str, ...], output: Path | None
) -> None:
    """The catalog of rules, global and per domain, from their METADATA annotations and the
    council's settings in council.yaml (enforcement, effective dates).

    --format markdown is a standards page the council can publish.
    """
    from engine.config import load_settings
    from engine.policy.library import load_library
    from engine.report.catalog import as_set, render_catalog

    fmt = _format(fmt, output, CATALOG_FORMATS)
    settings = load_settings(policies, governance)
    _refuse_own_files(output, *_kept_in(settings.mesh))
    library = load_library(settings.policies)
    gov, unread = _governance_of(settings, domains=False)
    rules = [as_set(r, gov) for r in library.rules if not category or r.category in category]
    text = render_catalog(rules, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)
    for problem in library.problems:
        click.echo(f"error: left out of the catalog: {one_line(problem)}", err=True)
    for problem in unread:
        click.echo(f"error: not applied to the catalog: {one_line(problem)}", err=True)
    if library.problems or unread:  # (the catalog is written, but it is not the whole library)
        sys.exit(EXIT_ERROR)


@main.command()
@click.argument("rule_id")
@library_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--now", callback=_parse_now, metavar="RFC3339", help="Judge the domains' waivers as of this time.")
@handles_errors
def explain(rule_id: str, policies: str | None, governance: str | None, fmt: str, now: datetime) -> None:
    """What rule RULE_ID checks, why, its parameters, how to fix a finding, examples, where it lives,
    and what the council and the domains set for it (a waiver's state as of --now: active,
    expiring within 14 days, expired, not yet approved)."""
    import difflib

    from engine.config import load_settings
    from engine.policy.library import left_out, load_library
    from engine.report.catalog import render_explain
    from engine.testing import load_tests, tests_of

    settings = load_settings(policies, governance)
    library = load_library(settings.policies)
    rule = library.rule(rule_id.upper())
    if rule is None:
        # (a rule with a problem is left out of the library: say why, rather than that there is none)
        file = left_out(library).get(rule_id.upper())
        if file is not None:
            problems = [p for p in library.problems if p.file == file]
            if len(problems) == 1:
                raise GovernError(f"rule {rule_id.upper()} is left out of the library: {problems[0]}")
            said = f"rule {rule_id.upper()} is left out of the library ({len(problems)} problems):"
            raise GovernError(said, details=tuple(str(p) for p in problems))
        close = difflib.get_close_matches(rule_id.upper(), [r.id for r in library.rules], n=3, cutoff=0.7)
        hint = f"; did you mean {', '.join(close)}?" if close else "; govern policies lists them"
        raise UsageError(f"no rule {rule_id} in {display(settings.policies)}{hint}")
    tests: list[str] = []
    if settings.policy_tests.is_dir():
        tests = tests_of(rule, load_tests(settings.policies, [settings.policy_tests]).references())
    gov, unread = _governance_of(settings, domains=True)
    click.echo(render_explain(rule, fmt, tests, gov, now), nl=False)
    for problem in unread:
        click.echo(f"error: not applied: {one_line(problem)}", err=True)
    if unread:
        sys.exit(EXIT_ERROR)


@main.command()
@click.argument("out", type=_Path(file_okay=False, path_type=Path))
@click.option("--products", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--domains", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--policies", metavar="DIR", type=FOLDER, help="Policy library the mesh is checked with (default: from govern.toml)."
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day waivers are dated from (default: today); with the seed, it fixes the output.",
)
@handles_errors
def generate(out: Path, products: int, domains: int, seed: int, policies: str | None, as_of: datetime | None) -> None:
    """Write a synthetic mesh of PRODUCTS products into OUT, a new repository root (govern.toml, governance/, mesh/).

    About 30 columns per contract, lineage within and across domains, a third of the products with
    deliberate violations, half of the waivable ones waived. Then: cd OUT && govern audit.
    """
    from engine.config import load_settings
    from engine.generate import generate as write_mesh
    from engine.generate import waiver_days

    day = as_of.date() if as_of else datetime.now(UTC).date()
    try:
        waiver_days(day)
    except OverflowError:  # (before anything is written)
        raise click.BadParameter(
            f"{day.isoformat()}: waivers are dated from it (10 days before, 90 after), which would leave the calendar",
            param_hint="'--as-of'",
        ) from None
    library = load_settings(policies).policies
    if not library.is_dir():  # (the generated govern.toml would name it, and every audit fail)
        raise UsageError(
            f"no policy library at {display(library)}: run govern generate in a govern repository, or give --policies DIR"
        )
    counts = write_mesh(out, products, domains, seed, library, day)
    violations = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items()) if "-" in rule)
    from engine.report import counted

    click.echo(f"wrote {counted(products, 'product')} in {counted(min(domains, products), 'domain')} to {out}")
    click.echo(f"deliberate violations: {violations or 'none'}; waivers: {counts['waivers']}")


@main.group()
def schema() -> None:
    """JSON Schemas of govern's documents."""


@schema.command("input")
def schema_input() -> None:
    """The JSON Schema of the input document every rule sees (docs/input.md)."""
    from engine.model import InputDocument

    document = InputDocument.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "govern input document"
    click.echo(json.dumps(document, indent=2))
