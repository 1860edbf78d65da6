from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import moo_hpo as mh
from moo_hpo.storage import SCHEMA_VERSION, InMemoryStore, SQLiteStore
from moo_hpo.trial import Trial, TrialStatus


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = InMemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.db")
    yield s
    s.close()


def test_stores_share_one_interface(store):
    t = Trial(number=0, config={"a": 0.5, "c": None, "b": True}, started_at=1.0, seed=7, optimizer="random")
    store.add_trial(t)
    t.status, t.metrics, t.extra, t.finished_at = TrialStatus.COMPLETE, {"y": 0.25}, {"table": [1, 2]}, 2.0
    store.update_trial(t)
    (back,) = store.load_trials()
    assert back == t
    store.set_meta("k", {"x": [1, 2]})
    assert store.get_meta("k") == {"x": [1, 2]} and store.get_meta("missing", 3) == 3


def test_duplicate_number_refused(store):
    store.add_trial(Trial(number=0, config={}))
    with pytest.raises(mh.StorageError, match="already exists"):
        store.add_trial(Trial(number=0, config={}))


def test_mark_interrupted(store):
    store.add_trial(Trial(number=0, config={}, status=TrialStatus.COMPLETE, metrics={"y": 1.0}))
    store.add_trial(Trial(number=1, config={}))
    assert store.mark_interrupted() == [1]
    trials = store.load_trials()
    assert trials[1].status is TrialStatus.INTERRUPTED and "interrupted" in trials[1].error
    assert trials[0].status is TrialStatus.COMPLETE


def test_a_trial_found_interrupted_ends_at_its_last_report_or_at_no_known_time(store):
    # its process stopped at an unknown moment: the time of the next opening counted the hours the study lay stopped
    # as the trial's duration (16.8 s recorded for a trial that ran 1.7 s)
    started = time.time() - 3600.0
    store.add_trial(Trial(number=0, config={}, started_at=started))
    store.add_trial(Trial(number=1, config={}, started_at=started))
    store.add_report(1, {"step": 1, "metrics": {"y": 0.5}, "at": started + 1.5})
    store.add_report(1, {"step": 2, "metrics": {"y": 0.4}, "at": started + 2.0})
    assert store.mark_interrupted() == [0, 1]
    silent, reported = store.load_trials()
    assert silent.status is TrialStatus.INTERRUPTED and silent.finished_at is None and silent.duration is None
    assert reported.finished_at == pytest.approx(started + 2.0) and reported.duration == pytest.approx(2.0)


def test_sqlite_uses_wal_and_records_schema_version(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.get_meta("schema_version") == SCHEMA_VERSION
    store.close()


def test_newer_schema_refused(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.set_meta("schema_version", SCHEMA_VERSION + 1)
    store.close()
    with pytest.raises(mh.StorageError, match="upgrade moo_hpo"):
        SQLiteStore(tmp_path / "s.db")


def test_foreign_sqlite_file_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE x (a)")
    conn.commit()
    conn.close()
    with pytest.raises(mh.StorageError, match="not a moo_hpo study"):
        SQLiteStore(path, read_only=True)


def test_not_a_database_refused(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(mh.StorageError, match="not a readable moo_hpo study"):
        SQLiteStore(path)


def test_a_file_damaged_past_its_header_is_one_clear_error_and_leaves_it_openable(tmp_path):
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], storage=path, optimizer="random", seed=0) as study:
        study.optimize(lambda c: {"f": c["x"]}, n_trials=300, show_progress=False)
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096  # the header page stays whole; the trials' pages are overwritten
    for offset in range(5000, len(data), 4096):
        data[offset:offset + 200] = bytes((offset * 7 + i) % 256 for i in range(200))
    path.write_bytes(bytes(data))
    for read_only in (True, False):
        with pytest.raises(mh.StorageError, match=r"is damaged: .*Restore it from a copy"):
            mh.Study.load(path, read_only=read_only)
    # the failed opening let go of the file: a writer is not refused as a second one
    with pytest.raises(mh.StorageError, match="is damaged"):
        mh.Study.load(path)
    # damage in the first page's schema is found on opening: the same message, with the way to recover
    schema = bytearray(path.read_bytes())
    schema[3000:4096] = bytes((i * 7) % 256 for i in range(1096))
    path.write_bytes(bytes(schema))
    with pytest.raises(mh.StorageError, match=r"is damaged: database disk image is malformed\. Restore it"):
        mh.Study.load(path, read_only=True)


def test_a_trial_row_that_cannot_be_read_is_one_clear_error(tmp_path):
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], storage=path, optimizer="random", seed=0) as study:
        study.optimize(lambda c: {"f": c["x"]}, n_trials=3, show_progress=False)
    with sqlite3.connect(path) as db:  # a value garbled inside a sound page
        db.execute("UPDATE trials SET extra = '{not json' WHERE number = 1")
    with pytest.raises(mh.StorageError, match=r"is damaged: trial row 1 cannot be read \(JSONDecodeError: "):
        mh.Study.load(path, read_only=True)


def _damage_the_reports_table(path) -> None:
    """Overwrite the reports table's first page in the file, as a disk fault would."""
    db = sqlite3.connect(path)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'reports'").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
    db.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes((i * 7 + 3) % 256 for i in range(page_size)))


def _reports_after_the_file_breaks(config, trial):
    if trial.number == 3:  # the one trial that reports (no other writes the reports table meanwhile)
        path = os.environ["MOO_HPO_TEST_STUDY_FILE"]
        if os.environ["MOO_HPO_TEST_BREAK"] == "page":
            _damage_the_reports_table(path)
        else:  # a schema change every connection sees at once (a damaged page's checkpoint can wait on another trial's tell)
            with sqlite3.connect(path, timeout=30) as db:
                db.execute("DROP TABLE reports")
        trial.report(1, {"f": config["x"]})
    return {"f": config["x"]}


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_report_the_file_cannot_take_stops_the_study(tmp_path, monkeypatch, n_workers):
    # before, the objective got the StorageError, its trial failed, and so did every later trial
    path = tmp_path / "s.db"
    monkeypatch.setenv("MOO_HPO_TEST_STUDY_FILE", str(path))
    monkeypatch.setenv("MOO_HPO_TEST_BREAK", "page" if n_workers == 1 else "table")  # alone: a page overwritten
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], storage=path, optimizer="random", seed=0)
    with pytest.raises(mh.StorageError, match="is damaged" if n_workers == 1 else "could not write the study .*no such table"):
        study.optimize(_reports_after_the_file_breaks, n_trials=12, n_workers=n_workers, show_progress=False)
    statuses = [t.status for t in study.trials]
    assert set(statuses) <= {TrialStatus.COMPLETE, TrialStatus.INTERRUPTED}  # no trial failed for the file's fault
    # trials before #3 completed, but for one a slow worker still ran when #3 stopped the study (a loaded machine)
    assert statuses.count(TrialStatus.COMPLETE) >= 3 - (n_workers - 1) and len(statuses) < 12
    assert study.trial(3).status is TrialStatus.INTERRUPTED
    assert "StorageError" in study.trial(3).error
    study.close()


def test_a_table_missing_from_a_study_file_is_one_clear_error(tmp_path):
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], storage=path, optimizer="random", seed=0) as study:
        study.optimize(lambda c: {"f": c["x"]}, n_trials=2, show_progress=False)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE reports")
    for read_only in (True, False):
        with pytest.raises(mh.StorageError, match=r"could not read the study .*: no such table: reports\. Every trial"):
            mh.Study.load(path, read_only=read_only)


def test_a_folder_is_refused_as_a_study_file(tmp_path):
    for read_only in (False, True):
        with pytest.raises(mh.StorageError, match="expected a study file \\(SQLite\\); received the folder"):
            SQLiteStore(tmp_path, read_only=read_only)


def test_second_writer_refused_reader_allowed(tmp_path):
    path = tmp_path / "s.db"
    writer = SQLiteStore(path)
    writer.add_trial(Trial(number=0, config={"a": 1}))
    with pytest.raises(mh.StorageError, match="already open for writing in this process.*close"):
        SQLiteStore(path)
    other = subprocess.run([sys.executable, "-c", f"from moo_hpo.storage import SQLiteStore; SQLiteStore({str(path)!r})"],
                           capture_output=True, text=True)
    assert other.returncode != 0 and "another process is writing" in other.stderr
    reader = SQLiteStore(path, read_only=True)
    assert [t.number for t in reader.load_trials()] == [0]
    with pytest.raises(mh.StorageError, match="read-only"):
        reader.add_trial(Trial(number=1, config={}))
    reader.close()
    writer.close()
    SQLiteStore(path).close()  # the lock is released with the writer


def test_second_process_reads_a_running_study(tmp_path):
    path = tmp_path / "live.db"
    space = mh.Space({"a": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Minimize("y")], storage=path, seed=0, optimizer="random")
    for _ in range(3):
        t = study.ask()
        study.tell(t, {"y": t.config["a"]})
    running = study.ask()  # still running while the other process reads
    script = textwrap.dedent(
        f"""
        import moo_hpo as mh
        s = mh.Study.load({str(path)!r})
        print(s.read_only, len(s.trials), s.count("complete"), s.trials[-1].status.value)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "4", "3", "running"]
    study.tell(running, {"y": 0.5})
    assert study.trials[-1].status is TrialStatus.COMPLETE
    study.close()


def test_reading_a_closed_study_leaves_no_files_beside_it(tmp_path):
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"a": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path, seed=0) as study:
        study.optimize(lambda c: {"y": c["a"]}, n_trials=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]
    out = subprocess.run([sys.executable, "-m", "moo_hpo", "front", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    view = mh.Study.load(path, read_only=True)
    assert view.count("complete") == 2
    view.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]  # no -wal / -shm left by the readers


def test_a_reader_closing_beside_a_writer_leaves_the_writer_its_files(tmp_path):
    path = tmp_path / "s.db"
    writer = SQLiteStore(path)
    writer.add_trial(Trial(number=0, config={"a": 1}))
    script = (f"from moo_hpo.storage import SQLiteStore; r = SQLiteStore({str(path)!r}, read_only=True); "
              "print(len(r.load_trials())); r.close()")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1"]
    assert (tmp_path / "s.db-wal").exists() and (tmp_path / "s.db-shm").exists()  # the writer's, still in use
    writer.add_trial(Trial(number=1, config={"a": 2}))
    assert [t.number for t in writer.load_trials()] == [0, 1]
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]


def test_closing_one_view_leaves_another_views_locks_so_its_files_stay_and_it_sees_a_later_writer(tmp_path):
    # closing a descriptor of the file dropped every SQLite lock of the process on it: another process's reader
    # then removed the -wal / -shm under the open view, which never saw the next writer's trials
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"a": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path, seed=0) as study:
        study.optimize(lambda c: {"y": c["a"]}, n_trials=3)
    view = mh.Study.load(path, read_only=True)
    mh.Study.load(path, read_only=True).close()  # a second view of this process, closed
    read = (f"import moo_hpo as mh\nwith mh.Study.load({str(path)!r}, read_only=True) as v:\n    print(len(v.trials))")
    assert subprocess.run([sys.executable, "-c", read], capture_output=True, text=True, check=True).stdout.split() == ["3"]
    assert (tmp_path / "s.db-wal").exists() and (tmp_path / "s.db-shm").exists()  # the open view's
    write = (f"import moo_hpo as mh\nwith mh.Study.load({str(path)!r}) as s:\n"
             "    s.optimize(lambda c: {'y': c['a']}, n_trials=4, show_progress=False)")
    subprocess.run([sys.executable, "-c", write], capture_output=True, text=True, check=True)
    view.refresh()
    assert len(view.trials) == 7
    view.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]


def test_writer_sessions_beside_an_open_view_reuse_one_descriptor(tmp_path):
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"a": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path, seed=0) as study:
        study.optimize(lambda c: {"y": c["a"]}, n_trials=1, show_progress=False)
    view = mh.Study.load(path, read_only=True)
    counts = []
    for _ in range(30):  # a notebook that keeps a view and runs the study again and again
        with mh.Study.load(path) as study:
            study.optimize(lambda c: {"y": c["a"]}, n_trials=1, show_progress=False)
        counts.append(len(os.listdir("/proc/self/fd")))
    assert counts[-1] == counts[4]  # before, one more descriptor per session
    view.refresh()
    assert len(view.trials) == 31
    view.close()


def test_a_forked_child_closing_its_copy_leaves_the_parent_writing(tmp_path):
    path = tmp_path / "s.db"
    writer = mh.Study(mh.Space({"a": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path, seed=0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked helper process: opening the study for writing meets the parent's lock, then it closes
        try:  # (or collects) its copy of the parent's study
            mh.Study(mh.Space({"a": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path, seed=0)
            said = b"opened"
        except mh.StorageError as exc:
            said = str(exc).encode()[:200]
        os.write(write, said)
        writer.close()
        os._exit(0)
    said = os.read(read, 200).decode()
    os.waitpid(pid, 0)
    assert said.startswith("another process is writing the study")  # not "in this process ... call .close()"
    probe = f"import moo_hpo as mh\nprint(mh.Study.load({str(path)!r})._store.read_only)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "True"  # the parent still holds the writer's lock
    writer.close()


def test_a_forked_child_writing_keeps_its_parent_from_writing_beside_it(tmp_path):
    # the child reused a descriptor the parent kept waiting (the same open file): the parent's lock on its own copy
    # then succeeded too, and both wrote
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"a": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path, seed=0) as study:
        study.optimize(lambda c: {"y": c["a"]}, n_trials=1, show_progress=False)
    view = mh.Study.load(path, read_only=True)
    mh.Study.load(path).close()  # a writer session beside the view: its descriptor waits to be closed
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        child = mh.Study.load(path)
        os.write(write, b"R" if child._store.read_only else b"W")
        time.sleep(3)
        os._exit(0)
    try:
        assert os.read(read, 1) == b"W"  # the child writes
        parent = mh.Study.load(path)
        assert parent._store.read_only  # another process writes it
        parent.close()
    finally:
        os.waitpid(pid, 0)
        view.close()


def test_a_view_opened_by_another_thread_while_the_last_one_tidies_keeps_its_locks(tmp_path, monkeypatch):
    import threading
    import time

    from moo_hpo import storage

    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"a": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path, seed=0) as study:
        study.optimize(lambda c: {"y": c["a"]}, n_trials=2, show_progress=False)
    inode = os.stat(path).st_ino

    def my_locks():
        with open("/proc/locks") as fh:
            return [line for line in fh if f" {os.getpid()} " in line and f":{inode} " in line]

    real = storage._try_flock
    monkeypatch.setattr(storage, "_try_flock", lambda fd, kind, patience_s: time.sleep(0.3) or real(fd, kind, patience_s))
    closing = threading.Event()

    def last_view():  # the process's last view closes, and tidies up slowly
        view = mh.Study.load(path, read_only=True)
        assert len(view.trials) == 2
        closing.set()
        view.close()

    thread = threading.Thread(target=last_view)
    thread.start()
    closing.wait(10)
    time.sleep(0.1)
    second = mh.Study.load(path, read_only=True)  # another thread's view (a live report's, say)
    assert len(second.trials) == 2
    thread.join()
    assert my_locks()  # its shared lock: before, the tidy-up's descriptor closed it away
    second.close()


def test_a_version_1_store_gets_interrupted_trials_their_own_status(tmp_path):
    path = tmp_path / "v1.db"
    s = SQLiteStore(path)
    s.add_trial(Trial(number=0, config={}, status=TrialStatus.COMPLETE, metrics={"y": 1.0}))
    s.add_trial(Trial(number=1, config={}, status=TrialStatus.FAILED, error="interrupted: KeyboardInterrupt (Ctrl-C)"))
    s.add_trial(Trial(number=2, config={}, status=TrialStatus.FAILED, error="ValueError: interrupted by the model"))
    s.close()
    con = sqlite3.connect(path)  # what moo_hpo before schema 2 wrote
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit(), con.close()
    view = SQLiteStore(path, read_only=True)  # read as migrated, nothing written
    assert [t.status for t in view.load_trials()] == [TrialStatus.COMPLETE, TrialStatus.INTERRUPTED, TrialStatus.FAILED]
    assert view.get_meta("schema_version") == 1
    view.close()
    writer = SQLiteStore(path)
    assert writer.get_meta("schema_version") == SCHEMA_VERSION == 3
    writer.close()
    con = sqlite3.connect(path)
    assert [r[0] for r in con.execute("SELECT status FROM trials ORDER BY number")] == ["complete", "interrupted", "failed"]
    con.close()


def test_one_lock_per_file_whatever_the_path(tmp_path):
    path = tmp_path / "s.db"
    writer = SQLiteStore(path)
    (tmp_path / "hard.db").hardlink_to(path)
    (tmp_path / "soft.db").symlink_to(path)
    for alias in ("hard.db", "soft.db"):
        script = f"from moo_hpo.storage import SQLiteStore; SQLiteStore({str(tmp_path / alias)!r})"
        other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert other.returncode != 0 and "another process is writing" in other.stderr, other.stderr
    writer.close()
    SQLiteStore(tmp_path / "hard.db").close()  # free again once the writer is gone


def test_another_programs_database_is_refused_untouched(tmp_path):
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit(), con.close()
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(mh.StorageError, match="not a moo_hpo study.*customers"):
            SQLiteStore(path, read_only=read_only)
    with pytest.raises(mh.StorageError, match="not a moo_hpo study"):
        mh.Study.load(path)
    assert path.read_bytes() == before and not (tmp_path / "app.db-wal").exists()
    con = sqlite3.connect(path)  # with tables named like moo_hpo's
    con.execute("CREATE TABLE trials (x)")
    con.execute("CREATE TABLE meta (k, v)")
    con.commit(), con.close()
    before = path.read_bytes()
    with pytest.raises(mh.StorageError, match="not a moo_hpo study"):
        mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path)
    assert path.read_bytes() == before


def test_a_study_file_is_created_whole(tmp_path):
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    with pytest.raises(TypeError):  # a value that cannot be stored: nothing of the batch is written
        store.set_meta_many({"spec": {"a": 1}, "seed": object()})
    assert store.get_meta("spec") is None
    store.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x6D6F6F68
    con.close()


def test_a_full_disk_is_one_clear_error_and_told_trials_stay(tmp_path):
    path = tmp_path / "s.db"
    space = mh.Space({"x": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Minimize("y")], storage=path, seed=0, optimizer="random")
    study.optimize(lambda c: {"y": c["x"]}, n_trials=3, show_progress=False)
    pages = study._store._conn.execute("PRAGMA page_count").fetchone()[0]
    study._store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: as on a full disk
    with pytest.raises(mh.StorageError, match="full.*kept in the file"):
        study.optimize(lambda c: {"y": c["x"], "blob": 0.0}, n_trials=200, show_progress=False)
    study.close()
    assert mh.Study.load(path).count("complete") >= 3


def test_reading_works_on_read_only_media(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    path = src / "s.db"
    space = mh.Space({"x": mh.Float(0, 1)})
    with mh.Study(space, [mh.Minimize("y")], storage=path, seed=0, optimizer="random") as study:
        study.optimize(lambda c: {"y": c["x"]}, n_trials=3, show_progress=False)
    ro = tmp_path / "ro"
    ro.mkdir()
    read = (
        "import moo_hpo as mh; from moo_hpo.cli import app; from typer.testing import CliRunner; "
        f"s = mh.Study.load({str(ro / 's.db')!r}, read_only=True); print(s.count('complete')); "
        f"r = CliRunner().invoke(app, ['front', {str(ro / 's.db')!r}]); print(r.exit_code)\n"
        f"v = mh.Study.load({str(ro / 's.db')!r})\n"  # read-only by itself, as beside another writer (before: an OSError)
        "try:\n"
        "    v.ask()\n"
        "except mh.StorageError as exc:\n"
        "    print(v.read_only and 'its file cannot be written here' in str(exc))\n"
        "try:\n"  # opening it to write: one clear error that says how to read it
        f"    mh.Study(v.space, v.objectives, storage={str(ro / 's.db')!r})\n"
        "except mh.StorageError as exc:\n"
        "    print('cannot write the study file' in str(exc) and 'read_only=True' in str(exc))\n"
        "try:\n"  # a new study there: no advice to read a file that does not exist
        f"    mh.Study(mh.Space({{'x': mh.Float(0, 1)}}), [mh.Minimize('y')], storage={str(ro / 'new.db')!r})\n"
        "except mh.StorageError as exc:\n"
        "    print(str(exc).startswith('cannot create the study file') and 'give it a folder you can write' in str(exc))"
    )
    if os.geteuid() == 0:  # a real read-only file system, in a mount namespace of its own
        mount = f"mount --bind {src} {ro} && mount -o remount,bind,ro {ro} && {sys.executable} -c \"{read}\""
        out = subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True, text=True)
    else:  # without root: a folder and file nobody may write
        ro.rmdir()
        src.rename(ro)
        (ro / "s.db").chmod(0o444), ro.chmod(0o555)
        out = subprocess.run([sys.executable, "-c", read], capture_output=True, text=True)
        ro.chmod(0o755)
    assert out.stdout.split() == ["3", "0", "True", "True", "True"], (out.stdout, out.stderr)


def test_a_file_left_by_a_killed_creation_is_reused(tmp_path):
    path = tmp_path / "s.db"
    SQLiteStore(path).close()  # the schema is there, the study's definition never made it
    with pytest.raises(mh.StorageError, match="holds no study"):
        mh.Study.load(path)
    space = mh.Space({"x": mh.Float(0, 1)})
    with mh.Study(space, [mh.Minimize("y")], storage=path, seed=4) as study:
        study.optimize(lambda c: {"y": c["x"]}, n_trials=2, show_progress=False)
    with mh.Study.load(path) as again:
        assert again.seed == 4 and again.count("complete") == 2


def test_a_version_2_store_gets_the_reports_table_and_keeps_its_trials(tmp_path):
    path = tmp_path / "v2.db"
    s = SQLiteStore(path)
    s.add_trial(Trial(number=0, config={}, status=TrialStatus.RUNNING))
    s.close()
    con = sqlite3.connect(path)  # what moo_hpo before intermediate reports wrote
    con.execute("DROP TABLE reports")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit(), con.close()
    view = SQLiteStore(path, read_only=True)
    assert view.load_reports() == {} and len(view.load_trials()) == 1
    writer = SQLiteStore(path)
    assert writer.get_meta("schema_version") == 3
    writer.add_report(0, {"step": 1, "metrics": {"acc": 0.5}, "at": 1.0})
    writer.add_report(0, {"step": 2.5, "metrics": {"acc": 0.6}, "at": 2.0})
    assert writer.load_reports() == {0: [{"step": 1, "metrics": {"acc": 0.5}, "at": 1.0},
                                         {"step": 2.5, "metrics": {"acc": 0.6}, "at": 2.0}]}
    assert [r["step"] for r in writer.load_trials()[0].reports] == [1, 2.5]
    # a reader opened before the upgrade follows it: the reports the writer adds show in it too
    assert [r["step"] for r in view.load_trials()[0].reports] == [1, 2.5]
    view.close()
    writer.close()


def test_a_study_file_being_created_reads_as_not_there_yet(tmp_path):
    path = tmp_path / "s.db"
    path.touch()  # what a reader can meet while a writer creates the study (it locks the file first)
    with pytest.raises(mh.StorageError, match="holds no study yet: the file is empty"):
        mh.Study.load(path, read_only=True)
    with mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("y")], storage=path) as study:  # a writer takes it
        study.tell(study.ask(), {"y": 1.0})
    assert len(mh.Study.load(path, read_only=True).trials) == 1


def test_gc_frees_a_study_nobody_refers_to_before_its_file_is_refused(tmp_path) -> None:
    path = tmp_path / "g.db"
    enabled = gc.isenabled()
    gc.disable()  # as between two automatic collections: the study and its trials refer to each other
    try:
        study = mh.Study(_SPACE, [mh.Minimize("f")], storage=path, optimizer="random", seed=0)
        study.tell(study.ask(), {"f": 1.0})
        del study
        again = mh.Study.load(path)
        assert not again.read_only
        again.tell(again.ask(), {"f": 0.5})
        again.close()
    finally:
        if enabled:
            gc.enable()


_SPACE = mh.Space({"x": mh.Float(0.0, 1.0)})


@pytest.mark.parametrize(("given", "file"), [("sqlite:///{dir}/u.db", "u.db"), ("sqlite:///{dir}/sub/v.db", "sub/v.db")])
def test_an_sqlalchemy_sqlite_url_names_the_file(tmp_path, given, file) -> None:
    with mh.Study(_SPACE, [mh.Minimize("f")], storage=given.format(dir=tmp_path)) as study:
        study.tell(study.ask(), {"f": 1.0})
    assert (tmp_path / file).is_file()
    assert not any(p.name.startswith("sqlite") for p in tmp_path.rglob("*"))
    with mh.Study.load(given.format(dir=tmp_path)) as again:  # resumed by the same name
        assert len(again.trials) == 1
    assert mh.report(given.format(dir=tmp_path)).data["counts"]["complete"] == 1


def test_an_sqlite_urls_options_are_left_out_of_the_file_name_and_said_unused(tmp_path, caplog) -> None:
    given = f"sqlite:///{tmp_path}/study.db?timeout=30"  # Optuna's and SQLAlchemy's habit
    with caplog.at_level("WARNING", logger="moo_hpo"):
        with mh.Study(_SPACE, [mh.Minimize("f")], storage=given) as study:
            study.tell(study.ask(), {"f": 1.0})
    assert [p.name for p in tmp_path.iterdir()] == ["study.db"]
    assert "the URL's options (timeout=30) are not used" in caplog.text
    with mh.Study.load(tmp_path / "study.db") as again:
        assert len(again.trials) == 1
    # a study kept before under the file name with the options (how moo_hpo read the URL then) is still found
    old = tmp_path / "old.db?timeout=30"
    with mh.Study(_SPACE, [mh.Minimize("f")], storage=old) as study:
        study.tell(study.ask(), {"f": 2.0})
    with caplog.at_level("WARNING", logger="moo_hpo"):
        with mh.Study.load(f"sqlite:///{tmp_path}/old.db?timeout=30") as again:
            assert len(again.trials) == 1
    assert "named with the URL's options" in caplog.text and not (tmp_path / "old.db").exists()


@pytest.mark.parametrize("given", [":memory:", "", "postgresql://user@host/db", "mysql+pymysql://x/y"])
def test_storage_that_names_no_sqlite_file_is_refused_with_what_to_give(tmp_path, monkeypatch, given) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mh.StorageError, match="storage=None keeps a study in memory|give its path"):
        mh.Study(_SPACE, [mh.Minimize("f")], storage=given)
    assert list(tmp_path.iterdir()) == []  # no file or folder named after it


def test_a_study_kept_at_an_sqlite_urls_literal_path_is_still_found(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sqlite:").mkdir()  # where moo_hpo kept "sqlite:///old.db" before it read the URL form
    with mh.Study(_SPACE, [mh.Minimize("f")], storage=SQLiteStore("sqlite:/old.db")) as study:
        study.tell(study.ask(), {"f": 1.0})
    caplog.set_level("WARNING", logger="moo_hpo")
    with mh.Study.load("sqlite:///old.db", read_only=True) as again:
        assert len(again.trials) == 1
    assert "using the study file at that literal path" in caplog.text and "move it to old.db" in caplog.text
    assert caplog.text.count("literal path") == 1  # once, however many times it is opened


def test_asking_a_view_whether_its_study_is_written_holds_one_descriptor(tmp_path):
    path = tmp_path / "fd.db"
    with mh.Study(_SPACE, [mh.Minimize("f")], storage=path, optimizer="random") as study:
        study.ask()  # left running
    with mh.Study.load(path, read_only=True) as view:
        before = len(os.listdir("/proc/self/fd"))
        assert all(view.left_running() == [0] for _ in range(100))  # a live page asks at every refresh
        assert len(os.listdir("/proc/self/fd")) - before <= 1


@pytest.mark.parametrize("as_path", [False, True])
def test_a_storage_path_under_tilde_is_in_the_home_folder(tmp_path, monkeypatch, caplog, as_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    given = Path("~/studies/s.db") if as_path else "~/studies/s.db"
    with mh.Study(_SPACE, [mh.Minimize("f")], storage=given) as study:
        study.tell(study.ask(), {"f": 1.0})
    assert (home / "studies" / "s.db").is_file() and list(work.iterdir()) == []  # no folder named '~' here
    with mh.Study.load("~/studies/s.db", read_only=True) as again:
        assert len(again.trials) == 1
    # a study kept before at the literal path (a folder named '~' here) is still found, and the move advised
    (work / "~").mkdir()
    old = f"old-{as_path}.db"  # said once per file and process
    with mh.Study(_SPACE, [mh.Minimize("f")], storage=SQLiteStore(str(work / "~" / old))) as study:
        study.tell(study.ask(), {"f": 2.0})
    caplog.set_level("WARNING", logger="moo_hpo")
    with mh.Study.load(f"~/{old}", read_only=True) as again:
        assert again.trials[0].metrics["f"] == 2.0
    assert "in a folder named '~' here" in caplog.text
