"""Worker processes (engine/parallel.py): a worker that dies, and interruptions, end a run with a
message and an exit code instead of a wait for ever or orphaned workers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from tests.conftest import REPO

# A pool of two workers maps 400 items; the worker that takes item 100 is killed (as the kernel's
# out-of-memory killer would): a multiprocessing pool replaces it, but loses the items it held.
DYING_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from engine.parallel import WorkerDied, Workers

    def work(x):
        if x == 100:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    def start():
        pass

    with Workers(2) as workers:
        workers.restart(start)
        try:
            print(sum(workers.imap(work, range(400), 8)))
        except WorkerDied as e:
            print(f"error: {e}")
            sys.exit(e.exit_code)
    """
)


def test_a_worker_that_dies_ends_the_run_with_a_message_rather_than_a_wait_for_ever():
    # (the timeout only keeps a regression from hanging the test run: a pool without the watch
    # waits for the lost items for ever)
    proc = subprocess.run([sys.executable, "-c", DYING_WORKER], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == (
        "error: a worker process ended in the middle of the run (killed by SIGKILL: out of memory, or a crash);"
        " nothing was reported\n"
    )
    assert "Traceback" not in proc.stderr


def test_workers_take_every_item_when_none_dies():
    script = DYING_WORKER.replace("x == 100", "x == -1")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, f"{sum(range(400))}\n"), proc.stderr


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # (a zombie: ended, not yet reaped)
    except FileNotFoundError:
        return True


def test_a_terminated_audit_stops_its_workers_and_exits_130(govern, govern_process, tmp_path):
    """SIGTERM (what a scheduler sends to stop a job) during an audit evaluated by workers: the
    audit exits 130 saying so, its workers end with it rather than go on as orphans, nothing prints
    a traceback, and the history an earlier audit stored is intact."""
    mesh = tmp_path / "gen"
    assert govern("generate", str(mesh), "--products", "300", "--domains", "4", "--seed", "4").code == 0
    assert govern_process("audit", "--jobs", "2", cwd=mesh, timeout=600).code == 1  # (blocking findings)
    history = mesh / "mesh" / ".govern" / "history.sqlite"
    env = {**os.environ, "GOVERN_CACHE_DIR": str(tmp_path / "cold")}  # every file parsed: long enough to stop it
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "audit", "--jobs", "2"],
        cwd=mesh,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers: list[int] = []
    while proc.poll() is None and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (130, "interrupted\n")
    assert len(workers) == 2 and all(_gone(pid) for pid in workers)
    with sqlite3.connect(history) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_govern_errors_cross_between_processes_with_their_file_and_line(tmp_path):
    """What a worker raises reaches the parent as it was: message, file and line (and the damaged
    index's own fields), by way of a pickle."""
    import pickle

    from engine.errors import ConfigError, ConfigErrors, GovernError, LoadError, UsageError
    from engine.gather.index import IndexDamaged

    several = ConfigErrors([ConfigError("a", "c.yaml", 2), ConfigError("b", "c.yaml", 9)])
    for error in (GovernError("m", "f.yaml", 3), LoadError("bad", "p.yaml", 7), ConfigError("c", None), UsageError("u"), several):
        back = pickle.loads(pickle.dumps(error))
        assert (type(back), str(back), back.file, back.line) == (type(error), str(error), error.file, error.line)
    assert str(several) == "c.yaml:2: a\n  c.yaml:9: b"
    assert [str(p) for p in pickle.loads(pickle.dumps(several)).problems] == ["c.yaml:2: a", "c.yaml:9: b"]
    damaged = pickle.loads(pickle.dumps(IndexDamaged(tmp_path, "database disk image is malformed")))
    assert (damaged.why, damaged.root, str(damaged)) == (
        "database disk image is malformed",
        tmp_path,
        f"{tmp_path}/.govern/index.db: the mesh index is damaged (database disk image is malformed): remove it, and it is "
        "rebuilt",
    )


SLOW_WORK = """
import os, sys, time
from engine.parallel import Workers

def nap(item):
    time.sleep(0 if item < 2 else 30)
    return os.getpid()

with Workers(2) as workers:
    results = workers.imap(nap, range(200), 1)
    print(next(results), flush=True)  # a worker's process id
    for _ in results:
        pass
"""


def _running(pid: int) -> bool:
    """Whether the process runs (not ended, nor ended and waiting to be reaped by its new parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_the_workers_end_when_the_parent_is_killed(tmp_path):
    """Killed with SIGKILL (a scheduler's timeout, the out-of-memory killer), the parent cannot stop
    its workers: they went on with their batch (an item of 30 s here) beside the next run."""
    script = tmp_path / "work.py"
    script.write_text(SLOW_WORK)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    worker = int(parent.stdout.readline())
    assert _running(worker)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    for _ in range(100):  # (an event awaited, up to 20 s, not a speed measured)
        if not _running(worker):
            break
        time.sleep(0.2)
    assert not _running(worker), f"worker {worker} still runs after its parent was killed"


NO_FORK = """
import os, sys

def refused():
    raise BlockingIOError(11, "Resource temporarily unavailable")

os.fork = refused  # (as under a container's limit on processes)
sys.argv = ["govern", *sys.argv[1:]]
from engine.cli import run

run()
"""


def test_workers_that_cannot_be_started_are_an_error_saying_so(govern, tmp_path):
    """(A traceback and exit 1, the code of open findings, before.)"""
    mesh = tmp_path / "mesh"
    assert govern("generate", str(mesh), "--products", "100", "--domains", "2", "--seed", "3").code == 0
    cmd = [sys.executable, "-c", NO_FORK, "audit", str(mesh / "mesh"), "--no-store", "--jobs", "2"]
    proc = subprocess.run(cmd, cwd=mesh, capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout) == (3, ""), proc.stderr
    assert (
        proc.stderr
        == "error: cannot start 2 worker processes (Resource temporarily unavailable): run with --jobs 1 for one process\n"
    )
