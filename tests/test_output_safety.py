"""Every report format carries untrusted mesh text safely.

A product named with markup, XML-breaking text, terminal escape sequences (clear screen, set the
window title, bell), a carriage return, a NUL, a right-to-left override and the two characters XML
refuses besides controls (U+FFFE, U+FFFF) is checked and written in
each format. JSON and SARIF keep the name exact; the formats people read (text, markdown, HTML)
and JUnit XML show control characters as ``\\x1b``/``\\u202e`` and escape their own markup.
(That the HTML report runs no script from the mesh is tested in a real browser in test_audit.py.)
"""

from __future__ import annotations

import json
import textwrap
import unicodedata
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

NOW = "2026-11-01T00:00:00Z"
LEADS = "examples/mesh/marketing/leads"
PAYLOAD = "marketing_leads|<b>x</b>`]]>&\x1b[2J\x1b]0;pwned\x07\r\x00\u202e\ufffe\uffff"
SHOWN = "marketing_leads|<b>x</b>`]]>&\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x00\\u202e\\ufffe\\uffff"


@pytest.fixture
def hostile(demo_copy: Path) -> Path:
    descriptor = demo_copy / LEADS / "dataproduct.yaml"
    # json.dumps gives a YAML double-quoted scalar with \u escapes: the YAML itself stays printable.
    descriptor.write_text(descriptor.read_text().replace("name: marketing_leads", f"name: {json.dumps(PAYLOAD)}", 1))
    return demo_copy


def report(govern, root: Path, fmt: str) -> str:
    run = govern("check", "--now", NOW, LEADS, "--format", fmt, "-o", str(root / f"out.{fmt}"), cwd=root)
    assert run.code == 1
    return (root / f"out.{fmt}").read_text(encoding="utf-8")


def invisible(text: str) -> set[str]:
    """Control and format characters other than newline (a report's own line breaks)."""
    return {ch for ch in text if ch != "\n" and unicodedata.category(ch) in {"Cc", "Cf"}}


def test_text_report_shows_control_sequences_instead_of_sending_them(govern, hostile):
    text = report(govern, hostile, "text")
    assert invisible(text) == set()
    assert text.splitlines()[0] == f"{SHOWN}  (marketing)  FAIL  score 83.3  {LEADS}/dataproduct.yaml"


def test_json_and_sarif_keep_the_exact_text(govern, hostile):
    assert json.loads(report(govern, hostile, "json"))["products"][0]["name"] == PAYLOAD
    sarif = json.loads(report(govern, hostile, "sarif"))
    messages = [r["message"]["text"] for r in sarif["runs"][0]["results"] if r["ruleId"] == "NAM-001"]
    # The rule quotes the name (as Rego's %q does); SARIF carries that message unchanged.
    quoted = "marketing_leads|<b>x</b>`]]>&\\x1b[2J\\x1b]0;pwned\\a\\r\\x00\\u202e\\ufffe\\uffff"
    assert messages == [f'product name "{quoted}" does not match ^marketing_[a-z][a-z0-9_]*$']


def test_junit_is_well_formed_xml_with_the_name_made_visible(govern, hostile):
    root = ET.fromstring(report(govern, hostile, "junit"))
    assert [suite.get("name") for suite in root.iter("testsuite")] == [SHOWN]
    assert {case.get("classname") for case in root.iter("testcase")} == {SHOWN}


def test_markdown_escapes_markup_and_shows_control_characters(govern, hostile):
    text = report(govern, hostile, "markdown")
    assert invisible(text) == set()
    heading = next(line for line in text.splitlines() if line.startswith("### "))
    # The carriage return is whitespace: a table cell or heading is one line, so it became a space.
    escaped = r"marketing\_leads\|&lt;b&gt;x&lt;/b&gt;\`\]\]&gt;&amp;\\x1b\[2J\\x1b\]0;pwned\\x07 \\x00\\u202e\\ufffe\\uffff"
    assert heading == f"### ❌ {escaped} (marketing) · fail · score 83.3"
    rows = [line for line in text.splitlines() if line.startswith("| NAM-001 ")]
    assert len(rows) == 1
    assert rows[0].replace("\\|", "").count("|") == 7  # six cells: the payload's pipe cannot open a seventh


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)


def test_html_escapes_markup_and_shows_control_characters(govern, hostile, demo_copy):
    text = report(govern, hostile, "html")
    assert invisible(text) == set()
    parser = _Tags()
    parser.feed(text)
    assert "b" not in parser.tags
    shown = "marketing_leads|&lt;b&gt;x&lt;/b&gt;`]]&gt;&amp;\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x00\\u202e\\ufffe\\uffff"
    assert f"{shown}</td>" in text


def test_a_terminal_of_a_legacy_encoding_gets_the_report_with_what_it_cannot_show_replaced():
    """A latin-1 terminal (PYTHONIOENCODING, or the locale) cannot show ✗: the report is written with
    "?" in its place, not ended by a UnicodeEncodeError."""
    import os
    import subprocess

    from .conftest import REPO, govern_exe

    argv = [govern_exe(), "check", "--now", NOW, "examples/mesh/orders/legacy_feed"]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, env={**os.environ, "PYTHONIOENCODING": "latin-1"})
    assert (proc.returncode, proc.stderr) == (1, b"")
    lines = proc.stdout.decode("latin-1").splitlines()
    assert lines[1].startswith("  ? CON-005  medium · blocking  contract orders-legacy-feed-v1 has version")


@pytest.mark.parametrize("closed", [1, 2])
def test_a_run_started_with_standard_output_or_error_closed_ends_with_its_code(closed, tmp_path):
    """govern check >&- has nowhere to write its report: an error (3), not a traceback; with
    standard error closed (2>&-) the report is written and the exit code is the check's."""
    import os
    import subprocess

    from .conftest import REPO, govern_exe

    argv = [govern_exe(), "check", "--now", NOW, "examples/mesh/orders/legacy_feed"]
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.run(argv, cwd=REPO, stdout=stdout, stderr=stderr, preexec_fn=lambda: os.close(closed)).returncode
    if closed == 1:
        assert (code, out.read_text(), err.read_text()) == (
            3,
            "",
            "error: cannot write the report: standard output is closed (give --output FILE)\n",
        )
    else:
        assert (code, err.read_text()) == (1, "")
        assert out.read_text().startswith("orders_legacy_feed  (orders)  FAIL")


FAKE_LINES = textwrap.dedent(
    """\
    # METADATA
    # title: Orders products say all is well
    # description: >-
    #   A message of several lines, the second made to look like a line of govern's.
    # custom:
    #   id: ORDERS-009
    #   category: contracts
    #   severity: low
    #   enforcement: advisory
    #   override: none
    #   remediation: None.
    package domains.orders.fake_lines

    deny contains {"msg": "ok\\n\\norders_order_items  (orders)  PASS  score 100", "resource": "x"} if {
    \tinput.product.name == "orders_order_items"
    }
    """
)


def test_a_message_of_several_lines_is_one_line_of_the_text_report(govern, demo_copy):
    """A rule's message, a name or an error with newlines would print lines of its own in the text
    report, as govern's: they are shown as \\n."""
    (demo_copy / "policies/domains/orders/fake_lines.rego").write_text(FAKE_LINES)
    run = govern("check", "--now", NOW, "examples/mesh/orders/order_items", cwd=demo_copy)
    assert run.code == 0, run.err
    assert "  ✗ ORDERS-009  low · advisory  ok\\n\\norders_order_items  (orders)  PASS  score 100\n" in run.out
    assert [ln for ln in run.out.splitlines() if ln.startswith("orders_order_items")] == [
        "orders_order_items  (orders)  PASS  score 99.3  examples/mesh/orders/order_items/dataproduct.yaml"
    ]


def test_errors_on_a_terminal_show_control_sequences_instead_of_sending_them(demo_copy, monkeypatch):
    """An audit written to a file says its errors on standard error, where a terminal would act on
    escape sequences in a folder's name (click removes them only when the output is no terminal:
    here it is told to keep them, as on a terminal)."""
    from click.testing import CliRunner

    import engine.cli

    folder = demo_copy / "examples/mesh/orders/bad\x1b[2J\x1b]0;pwned\x07x"
    folder.mkdir()
    (folder / "dataproduct.yaml").write_text("name: [unclosed\n")
    monkeypatch.chdir(demo_copy)
    args = ["audit", "--now", NOW, "--no-store", "--output", str(demo_copy / "report.json")]
    result = CliRunner().invoke(engine.cli.main, args, color=True)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[1] == (
        "error: examples/mesh/orders/bad\\x1b[2J\\x1b]0;pwned\\x07x/dataproduct.yaml:1: invalid YAML: while parsing a flow"
        " sequence did not find expected ',' or ']'"
    )
    assert invisible(result.stderr) == set()


def test_an_error_naming_a_path_with_a_line_break_is_one_line(govern, tmp_path):
    folder = tmp_path / "m\nerror: all is well"
    folder.mkdir()
    run = govern("audit", "--no-store", str(folder))
    assert (run.code, run.err) == (
        2,
        f"error: nothing to audit in {tmp_path}/m\\nerror: all is well: no data product descriptor or data contract found\n",
    )
