"""The OPA backends: --engine opa against OPA servers (the stand-in, and real OPA when present) and
--engine reference (the OPA Go library in-process)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.backends.opa import free_port
from engine.cli import main

from .conftest import REPO, require_reference

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"
ORDER_KEY = "policies/domains/orders/order_key.rego"


def findings(run) -> list[tuple]:
    assert run.code in (0, 1), run.out + run.err
    return sorted((f["fingerprint"], f["message"], f["status"], f["location"]["line"]) for f in run.json()["findings"])


def check(govern, *args: str, cwd: Path = REPO):
    return govern("check", M, "--now", NOW, "--format", "json", *args, cwd=cwd)


@pytest.fixture(scope="module")
def embedded_demo() -> list[tuple]:
    """The demo mesh's findings under the embedded engine, once for the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        result = CliRunner().invoke(main, ["check", M, "--now", NOW, "--format", "json"])
    assert result.exit_code == 1, result.output
    return sorted(
        (f["fingerprint"], f["message"], f["status"], f["location"]["line"]) for f in json.loads(result.stdout)["findings"]
    )


class RealOpa:
    """A real ``opa run --server`` for the run of one test."""

    def __init__(self) -> None:
        from engine.backends.opa import start_local_server

        self.url, self._process = start_local_server(shutil.which("opa"))  # type: ignore[arg-type]

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


@pytest.fixture(params=["stand-in", "real OPA"])
def opa_server(request) -> Iterator[str]:
    """The URL of an OPA server: the stand-in (tests/opa_standin.py) or a real one when opa is on PATH."""
    if request.param == "real OPA":
        if shutil.which("opa") is None:
            pytest.skip("no opa binary on PATH: the tests against a real OPA server need one (see docs/opa.md)")
        server = RealOpa()
        yield server.url
        server.close()
        return
    require_reference()
    from .opa_standin import StandinOpa

    with StandinOpa() as standin:
        yield standin.url


@pytest.fixture
def standin() -> Iterator:
    require_reference()
    from .opa_standin import StandinOpa

    with StandinOpa() as server:
        yield server


# --- --engine opa --opa-url ------------------------------------------------------------------------


def test_an_opa_server_finds_what_the_embedded_engine_finds(govern, opa_server, embedded_demo):
    run = check(govern, "--engine", "opa", "--opa-url", opa_server)
    assert findings(run) == embedded_demo
    assert run.json()["run"]["engine"] == {"name": "opa", "version": f"OPA server {opa_server}"}


def test_products_are_spread_over_several_servers(govern, embedded_demo):
    require_reference()
    from .opa_standin import StandinOpa

    with StandinOpa() as one, StandinOpa() as two:
        run = check(govern, "--engine", "opa", "--opa-url", one.url, "--opa-url", two.url)
        assert findings(run) == embedded_demo
        assert one.queries == 7 and two.queries == 7  # 14 products, round robin


def test_unavailable_answers_are_retried(govern, standin, embedded_demo):
    standin.unavailable = 2
    run = check(govern, "--engine", "opa", "--opa-url", standin.url)
    assert findings(run) == embedded_demo
    assert standin.unavailable == 0


def test_a_server_that_stays_unavailable_stops_the_run(govern, standin):
    standin.unavailable = 1000
    run = check(govern, "--engine", "opa", "--opa-url", standin.url)
    assert run.code == 3
    assert run.err == f"error: OPA at {standin.url}: HTTP 503, after 3 attempts\n"


def test_an_unreachable_server_is_named(govern):
    url = f"http://127.0.0.1:{free_port()}"
    run = check(govern, "--engine", "opa", "--opa-url", url)
    assert run.code == 3
    assert run.err == f"error: cannot reach the OPA server at {url}\n"


def test_a_policy_the_server_rejects_is_named_with_file_and_line(govern, opa_server, demo_copy):
    rule = demo_copy / ORDER_KEY
    source = rule.read_text()
    # (past a statement an empty input leaves undefined: the embedded engine's own look at the
    # library, which evaluates every rule on an empty input, stops there; OPA's type checker does not)
    body = '\tinput.product.name\n\tx := 1 + "a"\n\tmsg := sprintf("%v", [x])\n'
    rule.write_text(source.rstrip() + f"\n\ndeny contains msg if {{\n{body}}}\n")
    line = len(source.rstrip().splitlines()) + 4
    run = check(govern, "--engine", "opa", "--opa-url", opa_server, cwd=demo_copy)
    assert run.code == 3
    assert run.err.startswith(f"error: {ORDER_KEY}:{line}: OPA at {opa_server} rejected the policy: "), run.err
    assert "plus" in run.err or "type" in run.err


def test_a_rule_that_errs_marks_only_that_rule_and_product(govern, opa_server, demo_copy):
    rule = demo_copy / ORDER_KEY
    rule.write_text(
        rule.read_text().rstrip()
        + '\n\ndeny contains msg if {\n\tmsg := replace(object.get(input.product, "nothing", null), "a", "b")\n}\n'
    )
    embedded = govern("check", M, "--now", NOW, "--format", "json", cwd=demo_copy)
    served = check(govern, "--engine", "opa", "--opa-url", opa_server, cwd=demo_copy)
    assert embedded.code == served.code == 3
    verdicts = {p["name"]: p["verdict"] for p in served.json()["products"]}
    assert verdicts == {p["name"]: p["verdict"] for p in embedded.json()["products"]}
    errors = {p["name"]: p["errors"] for p in served.json()["products"] if p["errors"]}
    assert set(errors) == {"orders_order_items", "orders_returns", "orders_legacy_feed"}
    assert all(len(e) == 1 and e[0].startswith("rule ORDERS-001 could not be evaluated: ") for e in errors.values())
    assert "replace" in errors["orders_returns"][0]
    # (named by its file, as the user has it, not by its policy id on the server, govern/<file>)
    line = len(rule.read_text().splitlines()) - 1
    assert f" {ORDER_KEY}:{line}: " in errors["orders_returns"][0] and "govern/" not in errors["orders_returns"][0]
    assert findings_of(served) == findings_of(embedded)


def findings_of(run) -> list[tuple]:
    return sorted((f["fingerprint"], f["message"], f["status"]) for f in run.json()["findings"])


@pytest.mark.parametrize("url", ["ftp://opa:8181", "http://opa:8181/v1"])
def test_bad_urls_are_usage_errors(govern, url):
    run = check(govern, "--engine", "opa", "--opa-url", url)
    assert run.code == 2
    assert url in run.err


def test_opa_url_needs_engine_opa(govern):
    run = check(govern, "--opa-url", "http://localhost:8181")
    assert (run.code, run.err) == (2, "error: --opa-url needs --engine opa\n")


@pytest.mark.skipif(shutil.which("opa") is not None, reason="an opa binary is on PATH")
def test_engine_opa_without_a_url_or_binary_says_so(govern):
    run = check(govern, "--engine", "opa")
    assert run.code == 2
    assert "--engine opa needs --opa-url URL (an OPA server), or an opa binary on PATH" in run.err


@pytest.mark.skipif(shutil.which("opa") is None, reason="no opa binary on PATH: --engine opa without a URL starts one")
def test_engine_opa_starts_and_stops_a_local_opa(govern, embedded_demo):
    run = check(govern, "--engine", "opa")
    assert findings(run) == embedded_demo
    assert run.json()["run"]["engine"]["version"].startswith("opa run --server")


# --- --engine reference -------------------------------------------------------------------------------


def test_the_reference_engine_gives_the_same_fingerprints(govern, embedded_demo):
    require_reference()
    run = check(govern, "--engine", "reference")
    assert findings(run) == embedded_demo
    assert run.json()["run"]["engine"]["name"] == "reference"


def test_a_policy_the_reference_engine_rejects_stops_the_run_at_its_file_and_line(govern, demo_copy):
    """The Go library compiles at the first query: a rule it rejects was an error of every rule of
    every product (40 lines each) rather than one message at the rule's line."""
    require_reference()
    rule = demo_copy / ORDER_KEY
    source = rule.read_text()
    rule.write_text(
        source.rstrip() + '\n\ndeny contains msg if {\n\tinput.product.name\n\tn := 3\n\tmsg := sprintf("%d tags", n)\n}\n'
    )
    line = len(source.rstrip().splitlines()) + 5
    run = check(govern, "--engine", "reference", cwd=demo_copy)
    assert (run.code, run.out) == (3, "")
    assert run.err == f"error: {ORDER_KEY}:{line}: OPA rejected the policy: rego_type_error: sprintf: invalid argument(s)\n"
