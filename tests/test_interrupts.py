"""Ctrl-C and SIGTERM at any moment of a run (engine/entry.py): one line, "interrupted", exit 130,
never a traceback. A signal is sent at a chosen moment by the process itself (an import hook, or a
function of govern's wrapped), so each test is the same every run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import REPO

# Runs govern as its console script does (engine.entry.run), SIGNAL sent to itself when the module
# AT is first imported; PATCH is run first.
SCRIPT = """
import os, signal, sys

class SignalOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == {at!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{signal})
        return None

{patch}
sys.meta_path.insert(0, SignalOnImport())
sys.argv = ["govern", *sys.argv[1:]]
from engine.entry import run

run()
"""

# The second signal sent as the run is about to say it was interrupted, while it says so, and once
# it has.
BEFORE_SAYING = """
import engine.cli
said = engine.cli._interrupted
def second(message):
    os.kill(os.getpid(), signal.SIGINT)
    said(message)
engine.cli._interrupted = second
"""
WHILE_SAYING = """
import click
echo = click.echo
def second(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    echo(*args, **kwargs)
click.echo = second
"""
AFTER_SAYING = """
import engine.entry
say = engine.entry.say
def second(write):
    say(write)
    os.kill(os.getpid(), signal.SIGINT)
engine.entry.say = second
"""


def _govern(*args: str, at: str, signal: str = "SIGINT", patch: str = "") -> subprocess.CompletedProcess:
    code = SCRIPT.format(at=at, signal=signal, patch=patch)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("signal", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(
    "at",
    [
        "typing",  # the first module imported after the handler is set (a traceback before)
        "click",  # govern's own modules are being imported (a traceback before)
        "engine.gather.mesh",  # the command runs
    ],
)
def test_a_signal_while_govern_starts_or_runs_says_interrupted_and_exits_130(at, signal):
    run = _govern("check", "examples/mesh/orders/order_items", at=at, signal=signal)
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "interrupted\n")


@pytest.mark.parametrize(
    ("args", "at"),
    [
        (("history", "--store", "examples/mesh/.govern/none.sqlite"), "engine.history"),  # (--store's check imports it)
        (("--version",), "importlib.metadata"),  # (the group's own option)
        (("--bogus", "check"), "difflib"),  # (click imports it to suggest an option)
    ],
)
def test_a_signal_while_click_reads_the_options_is_an_interruption_not_an_abort(args, at):
    """(Click's own answer is "Aborted!" and exit 1.)"""
    run = _govern(*args, at=at)
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "interrupted\n")


@pytest.mark.parametrize("patch", [BEFORE_SAYING, WHILE_SAYING, AFTER_SAYING], ids=["before", "while", "after"])
def test_a_second_signal_while_the_run_stops_ends_it_at_once_saying_it_once(patch):
    """(A second Ctrl-C a few milliseconds after the first, while the run was on its way out, ended
    in a traceback.)"""
    run = _govern("check", "examples/mesh/orders/order_items", at="engine.gather.mesh", patch=patch)
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "interrupted\n")
