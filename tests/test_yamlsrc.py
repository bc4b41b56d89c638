"""Reading YAML: lines of every key, and errors with file:line for what a governance file must not hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import TooLarge, read_regular
from engine.errors import LoadError
from engine.gather.yamlsrc import load_file, load_text
from tests.conftest import REPO


def test_every_key_path_keeps_its_line():
    doc = load_text("name: a\nports:\n  - name: p\n    contractId: c\n", "f.yaml")
    assert doc.data == {"name": "a", "ports": [{"name": "p", "contractId": "c"}]}
    assert doc.lines["ports[0].contractId"] == 4
    assert doc.line_of("ports[0].missing") == 3
    assert doc.line_of("absent") == 1


def test_dates_stay_strings_and_keys_keep_their_text():
    doc = load_text("expires: 2027-03-31\non: yes\n", "f.yaml")
    assert doc.data == {"expires": "2027-03-31", "on": True}


def test_merge_keys_are_supported():
    doc = load_text("base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert doc.data["d"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("text", "nonfinite"),
    [
        ("a: 1.5\nb: [1, 2e3]\n", False),
        ("a: .inf\n", True),
        ("a: [x, {b: -.Inf}]\n", True),
        ("a: .NaN\n", True),
        ("a: 1.0e+999\n", True),  # too large for a float
        ("a: '.inf'\n", False),  # text
    ],
)
def test_a_float_json_cannot_write_is_flagged_every_time(text, nonfinite):
    # twice: the second parse takes the constructed value from the parser's own table
    assert [load_text(text, "f.yaml").nonfinite for _ in range(2)] == [nonfinite, nonfinite]


SCALARS = [
    "yes",
    "on",
    "No",
    "123",
    "0x1F",
    "0o17",
    "1_000",
    "1e3",
    "1.5",
    ".inf",
    "-.Inf",
    ".nan",
    "null",
    "~",
    "true",
    "abc",
    "12:30",
]


@pytest.mark.parametrize("quoted", [False, True])
def test_scalars_resolve_as_the_safe_loader_resolves_them_every_time(quoted):
    """Plain texts are resolved once and remembered (engine/gather/yamlparse.py): the second and
    third documents must still read each text as PyYAML's safe loader does, and a quoted text
    (the same characters) stays a string."""
    import math

    import yaml

    text = "".join(f"k{i}: {repr(v) if quoted else v}\n" for i, v in enumerate(SCALARS))
    expected = yaml.safe_load(text)
    for _ in range(3):
        got = load_text(text, "f.yaml").data
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[key])
            else:
                assert (type(got[key]), got[key]) == (type(value), value), key


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first on line 1)"),
        ("name: x\ndescription: a: b\n", 2, "invalid YAML: mapping values are not allowed"),
        ("", 1, "the file is empty"),
        ("# only a comment\n", 1, "the file is empty"),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
        ("x: !!python/object/apply:os.system [ls]\n", 1, "unsupported tag"),
        ("a: &a [*a]\n", 1, "an alias refers to a value that contains it"),
        ("a:\n  ? [1, 2]\n  : x\n", 2, "a mapping key must be a plain value"),
        # an explicit tag forces its type on any text
        ("name: x\nok: !!bool maybe\n", 2, "'maybe' is not a valid bool (tag !!bool)"),
        ('a: !!bool ""\n', 1, "'' is not a valid bool (tag !!bool)"),
        ('a: !!float ""\n', 1, "'' is not a valid float (tag !!float)"),
        ("a: !!int notanint\n", 1, "'notanint' is not a valid int (tag !!int)"),
        # characters YAML does not allow, at their line
        ('name: x\nb: "a\x07b"\n', 2, "invalid YAML: character U+0007 is not allowed (control characters are not allowed)"),
        ("name: x\r\nc: 1\r\nb: a\x00b\n", 3, "invalid YAML: character U+0000 is not allowed"),
        ("a: 1\nb: \ufffe\n", 2, "invalid YAML: character U+FFFE is not allowed"),
        # a tab where YAML wants spaces is named as such
        (
            "kind: DataProduct\naccess:\n\tmodel: public\n",
            3,
            "invalid YAML: while scanning for the next token found character that cannot start any token (a tab: YAML"
            " indents with spaces)",
        ),
        ("a: 1\r\nb:\r\n\tc: 2\r\n", 3, "cannot start any token (a tab: YAML indents with spaces)"),
        # where an unclosed [ began, when found on a later line (it named the next line alone)
        (
            "kind: DataProduct\nstatus: [active\nowner: t\n",
            3,
            "invalid YAML: while parsing a flow sequence (begun at line 2) did not find expected ',' or ']'",
        ),
        ("kind: DataProduct\nname: [x\n", 2, "invalid YAML: while parsing a flow sequence did not find expected ',' or ']'"),
        # (only a structure being parsed begins somewhere: other contexts are said as they were)
        ("a: &o 1\nb: 2\nc: &o 3\n", 3, "invalid YAML: found duplicate anchor; first occurrence second occurrence"),
    ],
)
def test_bad_yaml_is_an_error_with_file_and_line(text, line, message):
    with pytest.raises(LoadError) as caught:
        load_text(text, "bad.yaml")
    assert caught.value.file == "bad.yaml"
    assert caught.value.line == line
    assert message in caught.value.message


def test_alias_bomb_is_refused():
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        levels.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 10)}]")
    with pytest.raises(LoadError, match="alias bomb"):
        load_text("\n".join(levels) + "\n", "bomb.yaml")


def test_deep_nesting_is_refused():
    with pytest.raises(LoadError, match="nested deeper"):
        load_text("a: " + "[" * 200 + "]" * 200 + "\n", "deep.yaml")


@pytest.mark.parametrize("levels", [150, 1200])
def test_deep_block_nesting_is_refused_at_the_line_it_passes_the_limit(levels):
    """(Past libyaml's own limit, 1,000 levels, the error named the line where libyaml stopped.)"""
    lines = ["kind: DataProduct", "custom:", *(" " * i + f"k{i}:" for i in range(1, levels + 1))]
    with pytest.raises(LoadError) as caught:
        load_text("\n".join(lines) + " x\n", "deep.yaml")
    assert (caught.value.line, caught.value.message) == (103, "document is nested deeper than 100 levels")


@pytest.mark.parametrize(
    "text, line",
    [
        ("kind: DataProduct\nextra: " + "[" * 50_000 + "]" * 50_000 + "\n", 2),
        ("kind: DataProduct\nextra:\n  " + "- " * 50_000 + "x\n", 3),  # block sequences, compact
        ("kind: DataProduct\nextra: " + "{a: " * 50_000 + "x" + "}" * 50_000 + "\n", 2),
    ],
)
def test_nesting_deeper_than_libyaml_can_compose_is_refused_before_it_crashes(text, line):
    """libyaml composes recursively in C: some 25,000 levels overflow its stack (the process dies
    with SIGSEGV, in a subprocess here so that a regression fails this test only)."""
    script = "import sys\nfrom engine.gather.yamlsrc import load_text\ntry:\n    load_text(sys.stdin.read(), 'deep.yaml')\n"
    script += "except Exception as e:\n    print(e)\n"
    proc = subprocess.run([sys.executable, "-c", script], input=text, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, f"deep.yaml:{line}: document is nested deeper than 100 levels\n")


def test_a_number_too_long_for_python_to_read_is_an_error_with_its_line():
    with pytest.raises(LoadError) as caught:
        load_text("kind: DataProduct\nversion: " + "1" * 5000 + "\n", "long.yaml")
    assert str(caught.value) == "long.yaml:2: a number of 5000 characters is too long to read"


def test_non_utf8_bytes_name_their_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: a\ndescription: caf\xe9\n")
    with pytest.raises(LoadError) as caught:
        load_file(path, "latin1.yaml")
    assert str(caught.value) == "latin1.yaml:2: not valid UTF-8 (byte 0xe9 at offset 24)"


def test_a_file_over_the_limit_is_refused_from_its_size_and_never_read_whole(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"kind: DataProduct\n" + b"#" * 100)
    assert read_regular(path, 118) == path.read_bytes()
    with pytest.raises(TooLarge) as caught:
        read_regular(path, 117)
    assert caught.value.size == 118


def test_a_file_larger_than_its_size_says_is_refused_after_reading_at_most_the_limit():
    """/proc files say they are empty (size 0) and hold more: as a file that grows while it is read."""
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("no /proc")
    assert status.stat().st_size == 0
    with pytest.raises(TooLarge) as caught:
        read_regular(status, 10)
    assert caught.value.size == 11  # what was read: the limit and one byte more


@pytest.mark.parametrize(
    "text",
    [
        "\u2028\u2028kind: DataProduct\nkind: DataProduct\n",  # Unicode line separators
        "\x85kind: DataProduct\nkind: DataProduct\n",  # NEL
        "kind: DataProduct\r\nkind: DataProduct\r\n",  # Windows line ends
        "kind: DataProduct\rkind: DataProduct\r",  # classic Mac line ends: no newline in the file
        "\u2028kind: DataProduct\rkind: DataProduct\r",
    ],
)
def test_lines_are_counted_as_editors_count_them(text):
    """libyaml also breaks lines at NEL, U+2028 and U+2029; editors and grep count only newlines (or,
    in a file without any, carriage returns)."""
    with pytest.raises(LoadError) as e:
        load_text(text, "f.yaml")
    assert (e.value.line, e.value.message) == (2, "duplicate key 'kind' (first on line 1)")


def test_an_error_at_the_end_names_the_last_line():
    with pytest.raises(LoadError) as e:
        load_text("a: 1\nb: [", "f.yaml")
    assert e.value.line == 2
    with pytest.raises(LoadError) as e:
        load_text("a: 1\rb: 2\rc: [\r", "f.yaml")
    assert e.value.line == 3
    with pytest.raises(LoadError) as e:
        load_text("a: 1\rb: 2\rc: \x01\r", "f.yaml")
    assert e.value.line == 3
    assert load_text("\u2028a: 1\nb: 2\n", "f.yaml").lines == {"": 1, "a": 1, "b": 2}


def test_a_whole_number_beyond_what_rego_reads_is_an_error_at_its_line():
    """(regorus reads numbers as 64-bit floats: an input document with a 310-digit number stopped
    every audit and check of the mesh with a traceback.)"""
    with pytest.raises(LoadError) as e:
        load_text("a: 1\nb:\n  value: 1" + "0" * 309 + "\n", "f.yaml")
    assert (e.value.line, e.value.message) == (
        3,
        "the number 100000000000... (310 characters) is beyond ±1.8e308, the largest Rego reads",
    )
    assert load_text("value: -1" + "0" * 307 + "\n", "f.yaml").data == {"value": -(10**307)}


def test_an_input_document_the_engine_cannot_read_is_an_error_of_that_product_alone():
    from engine.backends import RuleError
    from engine.backends.embedded import EmbeddedEngine

    engine = EmbeddedEngine()
    engine.load([("p.rego", 'package p\n\ndeny contains "x" if input.a\n')], {})
    out = engine.evaluate('{"a": 1' + "0" * 400 + "}", ["p"])
    assert out["p"] == RuleError("the engine cannot read the input document: number out of range at line 1 column 407")
    assert engine.evaluate('{"a": true}', ["p"]) == {"p": ["x"]}
