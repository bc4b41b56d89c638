"""A rule that runs for ever, takes the machine's memory or crashes the interpreter on some products
(engine/backends/sidecar.py): the run goes on, and the rule is an error of those products alone.

The time limits here are short so the tests end soon (runs that meet a runaway rule are processes
with a timeout, should the limit fail); what they assert is the outcome, never how long a run took."""

from __future__ import annotations

import errno
import json
import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from engine.backends import RuleError
from engine.backends.embedded import EmbeddedEngine
from engine.backends.sidecar import Sidecar, begin

NOW = "2026-12-01T00:00:00Z"

# A domain rule whose first statement fails on an empty input (so validate passes it), then runs
# through 10^10 pairs on every product with a contract.
RUNAWAY = textwrap.dedent(
    """\
    # METADATA
    # title: Contracts are looked at pair by pair
    # description: >-
    #   Takes hours on every product with a contract.
    # custom:
    #   id: {id}
    #   category: contracts
    #   severity: low
    #   enforcement: advisory
    #   override: none
    #   remediation: None.
    package domains.{domain}.runaway

    deny contains {{"msg": "never", "resource": "x"}} if {{
    \tsome contract in input.contracts
    \tsome a in numbers.range(1, 100000)
    \tsome b in numbers.range(1, 100000)
    \ta == b + 100000
    }}
    """
)

STOPPED = "stopped after 1 s on this product (the time limit: rule_time_limit in govern.toml)"
STOPPED_FOR_RUN = "stopped for this run: it ran longer than the 1 s time limit on another product"


def _limit(root: Path, seconds: float | str) -> None:
    toml = root / "govern.toml"
    toml.write_text(toml.read_text() + f"rule_time_limit = {seconds}\n")


def _rule_errors(report: dict) -> dict[str, list[str]]:
    return {p["id"]: p["errors"] for p in report["products"] if p.get("errors")}


def _without(report: dict, rule: str) -> dict:
    """What a report says of everything but ``rule`` (and the run's own facts)."""
    return {
        "findings": [f for f in report["findings"] if f["rule"] != rule],
        "products": [
            {key: value for key, value in p.items() if key not in ("verdict", "score", "errors", "rules")}
            for p in report["products"]
        ],
    }


def test_a_check_stops_a_rule_that_runs_for_ever_and_reports_the_other_rules(govern_process, demo_copy):
    before = govern_process("check", "examples/mesh/orders/order_items", "--now", NOW, "--format", "json", cwd=demo_copy)
    assert before.code in (0, 1), before.err
    (demo_copy / "policies/domains/orders/runaway.rego").write_text(RUNAWAY.format(id="ORDERS-009", domain="orders"))
    _limit(demo_copy, 1)
    run = govern_process("check", "examples/mesh/orders/order_items", "--now", NOW, cwd=demo_copy)
    assert run.code == 3, run.err
    assert f"  ! rule ORDERS-009 could not be evaluated: {STOPPED}\n" in run.out
    after = govern_process("check", "examples/mesh/orders/order_items", "--now", NOW, "--format", "json", cwd=demo_copy).json()
    assert _rule_errors(after) == {"orders_order_items": [f"rule ORDERS-009 could not be evaluated: {STOPPED}"]}
    assert _without(after, "ORDERS-009") == _without(before.json(), "ORDERS-009")


def test_an_audit_stops_the_rule_once_and_goes_on(govern_process, demo_copy):
    """The first product it runs too long on is stopped after the limit; the rule is not evaluated
    again for the rest of the run (in the same process); every other rule and domain is reported."""
    args = ("audit", "--now", NOW, "--format", "json", "--no-store", "--jobs", "1")
    before = govern_process(*args, cwd=demo_copy)
    assert before.code in (0, 1), before.err
    (demo_copy / "policies/domains/orders/runaway.rego").write_text(RUNAWAY.format(id="ORDERS-009", domain="orders"))
    _limit(demo_copy, 1)
    run = govern_process(*args, cwd=demo_copy)
    assert run.code == 3, run.err
    report = run.json()
    # (in path order: the legacy feed is the first orders product with a contract; shipments has none)
    assert _rule_errors(report) == {
        "orders_legacy_feed": [f"rule ORDERS-009 could not be evaluated: {STOPPED}"],
        "orders_order_items": [f"rule ORDERS-009 could not be evaluated: {STOPPED_FOR_RUN}"],
        "orders_returns": [f"rule ORDERS-009 could not be evaluated: {STOPPED_FOR_RUN}"],
    }
    assert _without(report, "ORDERS-009") == _without(before.json(), "ORDERS-009")
    assert [p["verdict"] for p in report["products"] if p["domain"] != "orders"] == [
        p["verdict"] for p in before.json()["products"] if p["domain"] != "orders"
    ]


def test_an_audit_in_worker_processes_stops_the_rule_in_each(govern, govern_process, tmp_path, demo_copy):
    """Batches evaluated in two workers (engine/shards.py): each worker stops the rule the first time
    it meets it, so one or two products (as the workers take the batches) are stopped after the
    limit, every other product of the domain is not evaluated by the rule, and nothing else changes."""
    root = tmp_path / "gen"
    policies = demo_copy / "policies"
    made = govern(
        "generate",
        str(root),
        "--products",
        "120",
        "--domains",
        "3",
        "--seed",
        "5",
        "--as-of",
        NOW[:10],
        "--policies",
        str(policies),
    )
    assert made.code == 0, made.err
    args = ("audit", "mesh", "--now", NOW, "--format", "json", "--no-store", "--jobs", "2")
    before = govern_process(*args, cwd=root)
    assert before.code in (0, 1), before.err
    domain = min(p["domain"] for p in before.json()["products"])
    (policies / "domains" / domain).mkdir(parents=True, exist_ok=True)
    (policies / "domains" / domain / "runaway.rego").write_text(RUNAWAY.format(id=f"{domain.upper()}-009", domain=domain))
    _limit(root, 1)
    run = govern_process(*args, cwd=root)
    assert (run.code, run.out[:1]) == (3, "{"), run.err
    report = run.json()
    errors = _rule_errors(report)
    # (every generated product has a contract)
    assert set(errors) == {p["id"] for p in report["products"] if p["domain"] == domain}
    messages = sorted(e for product_errors in errors.values() for e in product_errors)
    rule = f"{domain.upper()}-009"
    stopped = messages.count(f"rule {rule} could not be evaluated: {STOPPED}")
    assert 1 <= stopped <= 2
    assert messages.count(f"rule {rule} could not be evaluated: {STOPPED_FOR_RUN}") == len(messages) - stopped
    assert _without(report, rule) == _without(before.json(), rule)


def test_a_rule_that_asks_for_more_memory_than_a_rule_may_take_is_an_error_of_the_product():
    """The child may grow by 4 GiB: numbers.range(1, 10^9) asks for more at once. (Were the memory
    limit gone, the time limit would still end the rule within a second, with another message.)"""
    engine = EmbeddedEngine(time_limit=1)
    engine.load(
        [
            ("hog.rego", "package hog\ndeny contains n if { n := count([y | some y in numbers.range(1, 1000000000)]) }\n"),
            ("fine.rego", "package fine\ndeny contains input.name if { true }\n"),
        ],
        {},
    )
    try:
        first = engine.evaluate('{"name": "a"}', ["hog", "fine"])
        second = engine.evaluate('{"name": "b"}', ["fine", "hog"])
    finally:
        engine.close()
    memory = RuleError(
        "the Rego interpreter stopped evaluating this rule on this product (killed by SIGABRT: more than the 4 GiB"
        " of memory a rule may take, or a crash)"
    )
    assert first == {"hog": memory, "fine": ["a"]}
    # (a crash is the product's alone: the rule is evaluated again for the next)
    assert second == {"fine": ["b"], "hog": memory}


def _busy(seconds: float) -> None:
    """Keep the processor busy for ``seconds`` (a runaway rule: the limit counts processor time)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _work(document: str, packages: list[str], page) -> str:
    """An engine's work as engine.backends.embedded.interpret does it (each rule marked on the page
    as it begins), answering ``<document><package>`` for each package; ``slow`` on document 2 does not
    end (30 s: were it not stopped, its answer would fail the test), ``boom`` on document 1 kills the
    process, document ``hang`` is never read; ``ALL_BOOM`` set: ``boom`` kills it on every document.
    Each call is counted in the file ``CALLS`` names, if set."""
    if os.environ.get("CALLS"):
        with open(os.environ["CALLS"], "a") as f:
            f.write(document + "\n")
    if document == "hang":
        _busy(30)
    answers = []
    for rule, package in enumerate(packages, 1):
        if page is not None:  # (None: evaluated in the engine's own process)
            begin(page, rule)
        if package == "slow" and document == "2":
            _busy(30)
        if package == "boom" and (document == "1" or os.environ.get("ALL_BOOM")):
            os.kill(os.getpid(), signal.SIGKILL)
        if package == "pause":
            _busy(0.4)
        if package == "burn":
            _busy(0.45)
        answers.append(f"[0,{json.dumps([document + package])}]")
    return f"[{','.join(answers)}]"


def _outcomes(asked) -> list[dict]:
    return [{**{p: a[1] for p, a in zip(done, answer, strict=True)}, **errors} for done, answer, errors in asked]


def test_a_batch_keeps_every_answer_but_the_stopped_and_crashed_rules():
    """Products before the one a rule ran too long on keep its results, those after it are not
    evaluated by it; a crash is an error of its product and rule alone; a document the child never
    finishes reading is an error of every rule of its product."""
    sidecar = Sidecar(_work, 0.5)
    try:
        asked = sidecar.evaluate_many(
            [
                ("0", ["a", "slow"]),
                ("1", ["a", "boom", "slow"]),
                ("2", ["a", "slow", "boom"]),
                ("hang", ["a", "slow"]),
                ("3", ["slow", "a"]),
            ]
        )
        later = sidecar.evaluate_many([("4", ["slow", "boom"])])
    finally:
        sidecar.close()
    crashed = CRASHED
    stopped = RuleError("stopped after 0.5 s on this product (the time limit: rule_time_limit in govern.toml)")
    for_run = RuleError("stopped for this run: it ran longer than the 0.5 s time limit on another product")
    assert _outcomes(asked) == [
        {"a": ["0a"], "slow": ["0slow"]},
        {"a": ["1a"], "boom": crashed, "slow": ["1slow"]},
        {"a": ["2a"], "slow": stopped, "boom": ["2boom"]},
        {"a": RuleError("stopped: the engine spent more than 0.5 s reading the input document"), "slow": for_run},
        {"slow": for_run, "a": ["3a"]},
    ]
    assert _outcomes(later) == [{"slow": for_run, "boom": ["4boom"]}]


CRASHED = RuleError(
    "the Rego interpreter stopped evaluating this rule on this product (killed by SIGKILL: more than the 4 GiB"
    " of memory a rule may take, or a crash)"
)


def test_a_rule_that_crashes_on_every_product_costs_each_product_two_evaluations(tmp_path, monkeypatch):
    """After a crash, the batch is asked again and answered request by request: the answers before
    the crash are evaluated again once, never the whole batch again for each crash."""
    calls = tmp_path / "calls"
    monkeypatch.setenv("CALLS", str(calls))
    monkeypatch.setenv("ALL_BOOM", "1")
    sidecar = Sidecar(_work, 5)
    try:
        asked = sidecar.evaluate_many([(str(n), ["a", "boom"]) for n in range(8)])
    finally:
        sidecar.close()
    assert _outcomes(asked) == [{"a": [f"{n}a"], "boom": CRASHED} for n in range(8)]
    # the first batch ends at 0's crash; then each product once crashing, once without the rule
    assert calls.read_text().split() == ["0", "0", "1", "1", "2", "2", "3", "3", "4", "4", "5", "5", "6", "6", "7", "7"]


def test_a_child_that_died_between_batches_costs_no_product_anything():
    sidecar = Sidecar(_work, 5)
    try:
        assert _outcomes(sidecar.evaluate_many([("0", ["a"])])) == [{"a": ["0a"]}]
        os.kill(sidecar._pid, signal.SIGKILL)  # (as the out-of-memory killer would, while it waits)
        time.sleep(0.2)
        assert _outcomes(sidecar.evaluate_many([("1", ["a", "b"]), ("2", ["a"])])) == [{"a": ["1a"], "b": ["1b"]}, {"a": ["2a"]}]
    finally:
        sidecar.close()


def test_when_no_new_child_can_be_forked_the_rest_is_evaluated_here_without_the_stopped_rule(monkeypatch):
    import engine.backends.sidecar as sidecar_module

    real = sidecar_module.start_child
    forks = []

    def once(run):
        forks.append(run)
        return real(run) if len(forks) == 1 else None

    monkeypatch.setattr(sidecar_module, "start_child", once)
    sidecar = Sidecar(_work, 0.5)
    try:
        asked = sidecar.evaluate_many([("2", ["a", "slow"]), ("3", ["slow", "a"])])
    finally:
        sidecar.close()
    stopped = RuleError("stopped after 0.5 s on this product (the time limit: rule_time_limit in govern.toml)")
    for_run = RuleError("stopped for this run: it ran longer than the 0.5 s time limit on another product")
    assert _outcomes(asked) == [{"a": ["2a"], "slow": stopped}, {"a": ["3a"], "slow": for_run}]
    assert len(forks) == 2


def test_a_child_that_is_paused_is_not_charged_for_the_pause():
    """The limit counts processor time: a child stopped (Ctrl-Z) or waiting for a processor for
    longer than the limit, in a rule that needs less, is not stopped."""
    import threading

    sidecar = Sidecar(_work, 0.5)
    try:
        sidecar.evaluate_many([("0", ["a"])])
        pid = sidecar._pid
        pause = threading.Timer(0.1, os.kill, (pid, signal.SIGSTOP))
        resume = threading.Timer(1.5, os.kill, (pid, signal.SIGCONT))
        pause.start()
        resume.start()
        asked = sidecar.evaluate_many([("1", ["pause", "a"])])
        resume.join()
    finally:
        sidecar.close()
    assert _outcomes(asked) == [{"pause": ["1pause"], "a": ["1a"]}]


def test_without_a_child_process_the_engine_evaluates_in_its_own(monkeypatch):
    """Where no process can be forked (a limit on processes), rules are evaluated as they were
    without a time limit."""

    def refused() -> int:
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))

    modules = [("p.rego", "package p\ndeny contains x if { some x in input.xs }\n")]
    limited, unlimited = EmbeddedEngine(time_limit=5), EmbeddedEngine(time_limit=0)
    for engine in (limited, unlimited):
        engine.load(modules, {})
    monkeypatch.setattr(os, "fork", refused)
    requests = [('{"xs": [1, 2]}', ["p"]), ("{", ["p"]), ('{"xs": []}', ["p"])]
    assert limited.evaluate_many(requests) == unlimited.evaluate_many(requests)
    assert limited.evaluate_many(requests)[0] == {"p": [1, 2]}
    assert unlimited._sidecar is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [('"soon"', "'soon'"), ("true", "True"), ("-1", "-1"), ("nan", "nan"), ("100000", "100000")],
)
def test_a_time_limit_that_is_no_number_of_seconds_is_an_error_at_its_line(govern, demo_copy, value, shown):
    _limit(demo_copy, value)
    line = len((demo_copy / "govern.toml").read_text().splitlines())
    run = govern("check", "examples/mesh/orders/order_items", cwd=demo_copy)
    assert run.code == 3
    assert run.err == (
        f"error: govern.toml:{line}: 'rule_time_limit' must be a number of seconds from 0 (no limit) to 86400, not {shown}\n"
    )


def test_no_time_limit_evaluates_in_the_process_and_finds_the_same(govern, demo_copy, monkeypatch):
    args = ("audit", "--now", NOW, "--format", "json", "--no-store", "--jobs", "1")
    limited = govern(*args, cwd=demo_copy)
    _limit(demo_copy, 0)

    def forbidden(*args: object) -> None:
        raise AssertionError("evaluated in a child process without a time limit")

    monkeypatch.setattr(Sidecar, "evaluate_many", forbidden)
    unlimited = govern(*args, cwd=demo_copy)
    assert unlimited.code == limited.code == 1
    assert unlimited.json()["findings"] == limited.json()["findings"]
    assert unlimited.json()["products"] == limited.json()["products"]


def test_a_rule_that_runs_for_ever_on_an_empty_input_is_a_problem_of_its_file(govern_process, demo_copy):
    """Library loading evaluates each rule on an empty input (what fails there fails on every
    product): a rule that loops there is stopped after 10 s and left out, and every command says so
    (it made every command, validate included, run for hours)."""
    looping = RUNAWAY.format(id="ORDERS-009", domain="orders").replace("\tsome contract in input.contracts\n", "")
    (demo_copy / "policies/domains/orders/runaway.rego").write_text(looping)
    run = govern_process("validate", cwd=demo_copy, timeout=120)
    assert run.code == 3, run.err
    # (at its deny, and valid Rego: it said "invalid Rego" of the file, without a line)
    deny = next(i for i, row in enumerate(looping.splitlines(), 1) if row.startswith("deny contains"))
    assert run.out == (
        f"policies/domains/orders/runaway.rego:{deny}: this rule ran longer than 10 s on an empty input:"
        " a rule must end on every input\n"
    )


def _paused(sidecar: Sidecar, requests: list, stop: float, resume: float | None) -> list:
    """``requests`` evaluated while the child is stopped (SIGSTOP) from ``stop`` s to ``resume`` s
    (never resumed: None)."""
    import threading

    sidecar.evaluate_many([("0", ["a"])])  # (the child is started)
    pid = sidecar._pid
    timers = [threading.Timer(stop, os.kill, (pid, signal.SIGSTOP))]
    if resume is not None:
        timers.append(threading.Timer(resume, os.kill, (pid, signal.SIGCONT)))
    for timer in timers:
        timer.start()
    try:
        return sidecar.evaluate_many(requests)
    finally:
        for timer in timers:
            timer.join()


def test_a_rule_is_charged_the_processor_time_it_had_not_the_products_earlier_rules():
    """``burn`` takes 0.45 s of processor time, then the child is paused in ``pause``: the 0.45 s
    are not ``pause``'s."""
    sidecar = Sidecar(_work, 0.5)
    try:
        asked = _paused(sidecar, [("1", ["burn", "pause", "a"])], 0.6, 2.0)
    finally:
        sidecar.close()
    assert _outcomes(asked) == [{"burn": ["1burn"], "pause": ["1pause"], "a": ["1a"]}]


def test_a_child_that_gets_no_processor_time_is_stopped_at_ten_times_the_limit():
    """A child paused for good (or starved) would be waited for for ever: ten times the limit of
    the clock, and the rule it is on is stopped however little processor time it had."""
    sidecar = Sidecar(_work, 0.2)
    try:
        asked = _paused(sidecar, [("1", ["pause", "a"])], 0.1, None)
    finally:
        sidecar.close()
    stopped = RuleError("stopped after 0.2 s on this product (the time limit: rule_time_limit in govern.toml)")
    assert _outcomes(asked) == [{"pause": stopped, "a": ["1a"]}]


def test_a_child_that_dies_once_it_has_answered_costs_that_answer_nothing(monkeypatch):
    """Asked again request by request (after a crash), the child dies right after it has sent one
    answer: the answer stands, and the requests after it are asked of a new child."""
    import engine.backends.sidecar as sidecar_module

    real, parent = sidecar_module.send, os.getpid()

    def send_then_die(fd: int, data: bytes, *wait) -> bool:
        sent = real(fd, data, *wait)
        if os.getpid() != parent and b'"1a"' in data:
            os.kill(os.getpid(), signal.SIGKILL)
        return sent

    monkeypatch.setattr(sidecar_module, "send", send_then_die)
    sidecar = Sidecar(_work, 5)
    try:
        asked = sidecar.evaluate_many([("1", ["boom", "a"]), ("2", ["a"]), ("3", ["a"])])
    finally:
        sidecar.close()
    assert _outcomes(asked) == [{"boom": CRASHED, "a": ["1a"]}, {"a": ["2a"]}, {"a": ["3a"]}]


def test_a_child_paused_before_it_reads_a_batch_larger_than_its_pipe_is_replaced():
    """(The batch was written to the pipe without a limit: a child stopped before it had read one
    larger than the pipe holds was waited for for ever.) Stopped at ten times the limit, as a child
    that gets no processor time in a rule is, and the batch is asked of a new child. Should the
    send still be stuck after 60 s, the child is resumed (and the test fails)."""
    import threading

    sidecar = Sidecar(_work, 0.2)
    stuck = []
    try:
        sidecar.evaluate_many([("0", ["a"])])  # (the child is started)
        paused = sidecar._pid
        os.kill(paused, signal.SIGSTOP)

        def rescue() -> None:
            stuck.append(True)
            os.kill(paused, signal.SIGCONT)

        watchdog = threading.Timer(60, rescue)
        watchdog.start()
        documents = [f"{n}{'.' * 300_000}" for n in range(4)]  # (1.2 MB: a pipe holds 64 KiB)
        asked = sidecar.evaluate_many([(d, ["a"]) for d in documents])
        watchdog.cancel()
        replaced = sidecar._pid != paused
    finally:
        sidecar.close()
    assert _outcomes(asked) == [{"a": [d + "a"]} for d in documents]
    assert (stuck, replaced) == ([], True)
