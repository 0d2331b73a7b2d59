"""Two processes, one file: lock waits, readers and writers, and SIGKILL in the middle of a seal.

Every process here is a real Python process running the real store on a real
DuckDB file; the kill is a real SIGKILL. To make the kill land inside
``seal_version`` every time, the child hands the seal its members as a
generator that, after 200,000 of them (three batches already inside DuckDB's
uncommitted transaction), prints a line and sleeps: the parent waits for that
line and kills. A second test kills at a few fixed delays after the seal
starts, wherever that lands; its assertions hold wherever it lands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from schemas import ConfigError, StoreError
from store import Store

from ._builders import REPO, seed, synthetic_examples

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def spawn(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args], cwd=REPO, env=env or ENV,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], expected: str, timeout: float = 60) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"child never said {expected!r}: {proc.stderr.read() if proc.stderr else ''}")


HOLD = """
    import sys, time
    from store import Store
    with Store(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
"""


def test_a_second_writer_waits_for_the_lock(db: Path) -> None:
    Store(db).close()
    holder = spawn(HOLD, str(db), "1.5")
    try:
        wait_for_line(holder, "locked")
        started = time.monotonic()
        with Store(db, lock_timeout=30) as s:  # waits, then gets it
            waited = time.monotonic() - started
            assert s.versions() == []
        with Store(db, read_only=True):
            pass
    finally:
        holder.wait(timeout=60)
    assert holder.returncode == 0 and 0.5 < waited < 30


def test_a_second_writer_or_reader_fails_after_the_bounded_wait(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store(db).close()
    holder = spawn(HOLD, str(db), "30")
    try:
        wait_for_line(holder, "locked")
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            Store(db, lock_timeout=0.5)
        assert 0.4 < time.monotonic() - started < 10
        message = str(info.value)
        assert "\n" not in message and str(db) in message and f"PID {holder.pid}" in message
        assert "waited 0.5 s" in message and "BACKCHAIN_LOCK_TIMEOUT" in message
        monkeypatch.setenv("BACKCHAIN_LOCK_TIMEOUT", "0.2")
        with pytest.raises(StoreError, match=r"holds its lock .*waited 0\.2 s"):
            Store(db, read_only=True)
        monkeypatch.setenv("BACKCHAIN_LOCK_TIMEOUT", "soon")
        with pytest.raises(ConfigError, match="BACKCHAIN_LOCK_TIMEOUT='soon'"):
            Store(db)
    finally:
        holder.kill()
        holder.wait(timeout=60)


def test_a_reader_never_sees_a_half_sealed_version(db: Path) -> None:
    """A writer seals 100,000-row versions while a reader (its own connection) keeps checking."""
    with Store(db) as writer:
        table = synthetic_examples(writer, 100_000)
        ids = table.column("example_id")
    seen: list[tuple[int, int, int]] = []
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        with Store(db) as reader:
            while not done.is_set():
                # one statement, so one snapshot
                _, rows = reader.query(
                    "SELECT v.seq, v.row_count, (SELECT count(*) FROM member_rows AS m "
                    "WHERE m.version_id = v.version_id), "
                    "(SELECT count(*) FROM dataset_rows('big', 'latest')) "
                    "FROM version_rows AS v WHERE v.dataset = 'big'"
                )
                for seq, count, members, _ in rows:
                    seen.append((seq, count, members))
                    if count != members:
                        problems.append(f"big@{seq}: {members} members of {count}")
                if rows and max(rows)[3] != max(rows)[1]:
                    problems.append(f"latest has {max(rows)[3]} rows, not {max(rows)[1]}")

    thread = threading.Thread(target=read)
    with Store(db) as writer:
        thread.start()
        for k in range(3):
            writer.seal_version("big", run_id=None, members=pa.table(
                {"example_id": ids.slice(0, 100_000 - k), "score": pa.array([0.5] * (100_000 - k))}))
        done.set()
        thread.join(timeout=60)
    assert not problems, problems[:3]
    assert seen  # the reader did read while the writer sealed


CRASH = """
    import sys, time
    from store import Store
    store = Store(sys.argv[1])
    ids = store.con.sql("SELECT example_id FROM example_rows WHERE body LIKE '{\\"i\\":%'").fetchall()
    stall_at = int(sys.argv[2])

    def members():
        for k, (example_id,) in enumerate(ids):
            if k == stall_at:
                print("inside seal", flush=True)
                time.sleep(120)
            yield example_id, 0.25

    print("sealing", flush=True)
    store.seal_version("big", run_id=None, members=members())
    print("sealed", flush=True)
    time.sleep(120)
"""


def _history(db: Path, n: int) -> dict[str, tuple[str, int, str]]:
    """Versions before the crash: two real ones and a synthetic one of 1,000 rows."""
    with Store(db) as s:
        ids = [e.example_id for e in seed(s)]
        s.seal_version("geo", run_id="run-1", members=[(ids[0], 0.5)])
        s.seal_version("geo", run_id="run-1", members=[(i, 0.5) for i in ids[:3]])
        s.tag("geo", 1, "prod")
        table = synthetic_examples(s, n)
        s.seal_version("big", run_id=None, members=[(i, 0.1) for i in table.column("example_id")[:1000].to_pylist()])
        return {f"{v.dataset}@{v.version}": (v.version_id, v.row_count, v.content_hash) for v in s.versions()}


def _assert_intact(db: Path, before: dict[str, tuple[str, int, str]], *, allow_complete: bool) -> None:
    with Store(db) as s:
        after = {f"{v.dataset}@{v.version}": (v.version_id, v.row_count, v.content_hash) for v in s.versions()}
        extra = set(after) - set(before)
        assert {k: after[k] for k in before} == before
        assert extra <= ({"big@2"} if allow_complete else set())
        for v in s.versions():
            assert s.verify(v.version_id), v
        # no member row belongs to a version that does not exist, and every count adds up
        _, orphans = s.query("SELECT count(*) FROM member_rows WHERE version_id NOT IN "
                             "(SELECT version_id FROM version_rows)")
        assert orphans == [(0,)]
        _, total = s.query("SELECT (SELECT count(*) FROM member_rows), (SELECT sum(row_count) FROM version_rows)")
        assert total[0][0] == total[0][1]
        assert s.resolve("geo", "prod").version == 1
        s.seal_version("geo", run_id=None, members=[])  # the file takes new versions


def test_sigkill_inside_seal_leaves_previous_versions_intact_and_no_partial_version(db: Path) -> None:
    before = _history(db, 300_000)
    child = spawn(CRASH, str(db), "200000")
    wait_for_line(child, "inside seal")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    _assert_intact(db, before, allow_complete=False)


@pytest.mark.parametrize("delay", [0.05, 0.4])
def test_sigkill_at_any_moment_of_a_seal_leaves_a_whole_version_or_none(db: Path, delay: float) -> None:
    before = _history(db, 200_000)
    child = spawn(CRASH, str(db), "-1")  # never stalls
    wait_for_line(child, "sealing")
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    _assert_intact(db, before, allow_complete=True)
