"""The embedded backend: the regorus Rego interpreter, in-process (PyPI ``gordon-to-regorus``).

Used as its measurements advise: JSON evaluation APIs (the others turn sets into Python sets),
every evaluation guarded with ``BaseException`` (a Rust panic is a ``PanicException``), long
lines allowed, and ``RUST_BACKTRACE=0`` so error messages carry no backtrace.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import version
from typing import Any

os.environ["RUST_BACKTRACE"] = "0"

import regorus  # noqa: E402  (must come after RUST_BACKTRACE is set)

from engine.backends import Batched, Request, Results, RuleError  # noqa: E402
from engine.backends.sidecar import Sidecar, begin  # noqa: E402
from engine.config import RULE_TIME_LIMIT  # noqa: E402
from engine.parallel import Workers  # noqa: E402

MAX_COLUMNS = 100_000
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_LINES = 100_000


def new_engine() -> regorus.Engine:
    engine = regorus.Engine()
    engine.set_policy_length_config(max_col=MAX_COLUMNS, max_file_bytes=MAX_FILE_BYTES, max_lines=MAX_LINES)
    # A rule's print() output is kept, not written to standard error, where it would run into a
    # report (govern test shows each test's; check and audit drop it, as the reference engine does).
    engine.set_gather_prints(True)
    return engine


class EmbeddedEngine(Batched):
    name = "embedded"
    memoizable = True  # govern loads all it holds: its results may be reused (engine/memo.py)

    def __init__(self, workers: Workers | None = None, time_limit: float = RULE_TIME_LIMIT) -> None:
        """``time_limit``: seconds a rule may run on one product (engine/backends/sidecar.py); 0 for
        none (rules are then evaluated in this process)."""
        self.version = f"regorus {version('gordon-to-regorus')}"
        self._engine = new_engine()
        self._workers = workers
        self.time_limit = time_limit
        self._sidecar: Sidecar | None = None

    def evaluate_stream(self, requests: Iterable[Request | None], total: int) -> Iterator[Results | None]:
        if self._workers is not None:
            answers = self._workers.evaluate(requests, total)
            if answers is not None:
                return answers
        return super().evaluate_stream(requests, total)

    def load(self, modules: list[tuple[str, str]], data: dict[str, Any]) -> None:
        self.close()  # (a child evaluates what the engine held when it was forked)
        self._sidecar = None
        for file, source in modules:
            self._engine.add_policy(file, source)
        self._engine.add_data_json(json.dumps(data))

    def evaluate(self, document: str, packages: list[str]) -> Results:
        return self.evaluate_many([(document, packages)])[0]

    def evaluate_many(self, requests: Sequence[Request]) -> list[Results]:
        if self.time_limit > 0:
            if self._sidecar is None:
                self._sidecar = Sidecar(functools.partial(interpret, self._engine), self.time_limit)
            return [{**_results(answer, done), **errors} for done, answer, errors in self._sidecar.evaluate_many(requests)]
        return [
            _results(json.loads(interpret(self._engine, document, packages, None)), packages) for document, packages in requests
        ]

    def close(self) -> None:
        if self._sidecar is not None:
            self._sidecar.close()


def interpret(engine: regorus.Engine, document: str, packages: list[str], page: memoryview | None) -> str:
    """The engine's answer for each package's deny on ``document``, as one JSON text (read by
    :func:`_results` with one parse, not one per rule): a list of [0, the deny set] or [1, the
    error], or {"input": the error} when the engine cannot read the document. Each rule is marked
    on ``page`` as it begins (engine/backends/sidecar.py)."""
    try:
        engine.set_input_json(document)
    except BaseException as e:  # noqa: BLE001 - a Rust panic is not an Exception
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return json.dumps({"input": str(e)})
    parts = []
    for rule, package in enumerate(packages, 1):
        if page is not None:
            begin(page, rule)
        try:
            parts.append(f"[0,{engine.eval_rule_as_json(f'data.{package}.deny')}]")
        except BaseException as e:  # noqa: BLE001 - a Rust panic is not an Exception
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            parts.append(f"[1,{json.dumps(str(e))}]")
    if page is not None:
        begin(page, len(packages) + 1)
    engine.take_prints()  # (dropped: see new_engine)
    return f"[{','.join(parts)}]"


def _results(answers: Any, packages: list[str]) -> Results:
    """Each package's results from :func:`interpret`'s answer (parsed)."""
    if isinstance(answers, dict):  # (a document the engine cannot read: every rule is in error for this product alone)
        error = RuleError(f"the engine cannot read the input document: {_first_error_line(answers['input'])}")
        return dict.fromkeys(packages, error)
    out: Results = {}
    for package, (failed, value) in zip(packages, answers, strict=True):
        if failed:
            out[package] = RuleError(_first_error_line(value))
        elif value == "<undefined>" or value is None:
            out[package] = []
        else:
            out[package] = value if isinstance(value, list) else RuleError(f"deny is not a set: {value!r}")
    return out


def _first_error_line(message: str) -> str:
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    where = next((ln.removeprefix("-->").strip() for ln in lines if ln.startswith("-->")), None)
    error = next((ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else "evaluation failed")
    return f"{where}: {error}" if where else error


_REGEX_CHECK = """package govern.validate

invalid contains pattern if {
	some pattern in input
	not regex.is_valid(pattern)
}
"""


def invalid_regexes(patterns: set[str]) -> set[str]:
    """The patterns the rules' regex builtins cannot compile, in the embedded interpreter (asked of
    it: its syntax is not Python's) or in OPA, whose builtins take RE2's syntax (asked of RE2
    itself): a pattern only one of them takes (``a++``, ``(?x)``, ``a{1001}`` compile in the
    interpreter, not in OPA) would make every product it is matched against an error under the
    other."""
    import re2

    engine = new_engine()
    engine.add_policy("govern/validate.rego", _REGEX_CHECK)
    engine.set_input_json(json.dumps(sorted(patterns)))
    invalid = set(json.loads(engine.eval_rule_as_json("data.govern.validate.invalid")))
    options = re2.Options()
    options.log_errors = False  # (RE2 would log every pattern it refuses on standard error)
    for pattern in patterns - invalid:
        try:
            re2.compile(pattern, options)
        except re2.error:
            invalid.add(pattern)
    return invalid


_REGEX_MATCHES = """package govern.validate

matched contains [pattern, value] if {
	some [pattern, value] in input
	regex.match(pattern, value)
}
"""


def regex_matches(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (pattern, value) pairs whose pattern matches the value as the rules' ``regex.match``
    does, in the embedded interpreter (the patterns are valid: :func:`invalid_regexes`)."""
    if not pairs:
        return set()
    engine = new_engine()
    engine.add_policy("govern/validate.rego", _REGEX_MATCHES)
    engine.set_input_json(json.dumps(sorted(pairs)))
    return {(pattern, value) for pattern, value in json.loads(engine.eval_rule_as_json("data.govern.validate.matched"))}


_UNKNOWN = re.compile(r"Unknown function: '(?P<name>[^']+)'")


def unknown_functions(modules: list[tuple[str, str]], entries: list[str]) -> dict[str, tuple[str, str]]:
    """For each rule (``data.<package>.deny`` of ``entries``) that calls a function the interpreter
    does not have: the function, and the compiler's error (which names the file and line of the
    call, as engine.policy.library.rego_error reads them). The compiler of regorus' virtual machine
    resolves every call when it compiles (the interpreter only when it reaches one, on some input);
    each function it does not know is confirmed with the interpreter itself, which is what
    evaluates. Other compile errors (of constructs the virtual machine lacks) say nothing about a
    rule, and are not reported."""
    if not entries or _compiles(modules, entries) is None:
        return {}
    found: dict[str, tuple[str, str]] = {}
    probe = new_engine()
    for entry in entries:
        error = _compiles(modules, [entry]) or ""
        match = _UNKNOWN.search(error)
        if match is None:
            continue
        name = match.group("name")
        try:
            probe.eval_query_as_json(f"x := {name}()")
        except BaseException as e:  # noqa: BLE001 - a missing function, a wrong number of arguments, a panic
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            if f"could not find function {name}" in str(e):
                found[entry] = (name, error)
    return found


PROBE_SECONDS = 10  # a rule evaluated on an empty input by failing() is stopped after this long
RAN_TOO_LONG = f"this rule ran longer than {PROBE_SECONDS} s on an empty input: a rule must end on every input"


def failing(modules: list[tuple[str, str]], entries: list[str]) -> dict[str, str]:
    """The rules (``data.<package>.deny`` of ``entries``) the interpreter cannot evaluate on an
    empty input, with its error: what is wrong before any input is read (a variable no statement
    binds, a ``with`` that replaces a function by nothing, rules defined through each other). Such
    errors stop every product, and one of them (a ``with``) every rule of the library. A rule that
    runs longer than :data:`PROBE_SECONDS` on it is stopped (engine/backends/sidecar.py): it would
    run as long on every product."""
    engine = new_engine()
    for file, source in modules:
        engine.add_policy(file, source)
    packages = {entry.removeprefix("data.").removesuffix(".deny"): entry for entry in entries}
    sidecar = Sidecar(functools.partial(interpret, engine), PROBE_SECONDS, where=" on an empty input")
    try:
        with _stderr_discarded():  # (without a child, evaluated here)
            [(done, answers, errors)] = sidecar.evaluate_many([("{}", list(packages))])
    finally:
        sidecar.close()
    found = {packages[package]: error for package, (failed, error) in zip(done, answers, strict=True) if failed}
    for package, error in errors.items():
        if package in sidecar.stopped:
            found[packages[package]] = RAN_TOO_LONG
        else:
            found[packages[package]] = error.message
    return found


@contextlib.contextmanager
def _stderr_discarded() -> Iterator[None]:
    """Standard error sent nowhere: the interpreter writes some of its errors there too (and fails
    with "failed printing to stderr" when it is a closed pipe, which a probe must not take for the
    rule's error)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # (closed)
        saved = -1
    nowhere = os.open(os.devnull, os.O_WRONLY)  # (2 itself when it was closed)
    try:
        os.dup2(nowhere, 2)
        yield
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
        else:
            os.close(2)
        if nowhere != 2:
            os.close(nowhere)


def _compiles(modules: list[tuple[str, str]], entries: list[str]) -> str | None:
    """None when the modules compile for the entry points, else the compiler's error."""
    try:
        with _stderr_discarded():
            regorus.Program.compile_from_modules("{}", modules, entries)
    except BaseException as e:  # noqa: BLE001 - compile errors and panics alike
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return str(e)
    return None
