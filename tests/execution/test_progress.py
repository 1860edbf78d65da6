"""The progress display in a terminal: the study's name is shown as text."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent(
    """
    import moo_hpo as mh
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], name="exp[/x] :smile:",
                     optimizer="random", seed=0)
    study.optimize(lambda c: {"f": c["x"]}, n_trials=3)
    print("finished", study.count("complete"))
    """
)


def test_a_name_with_brackets_or_emoji_codes_is_shown_as_text_in_a_terminal(tmp_path):
    # in a terminal the bar is rich's: a name with '[/x]' was read as markup and crashed optimize
    script = tmp_path / "bar.py"
    script.write_text(SCRIPT)
    leader, follower = os.openpty()
    proc = None
    try:
        proc = subprocess.Popen([sys.executable, str(script)], stdout=follower, stderr=follower,
                                env={**os.environ, "COLUMNS": "200", "TERM": "xterm"})
        os.close(follower)
        chunks = []
        deadline = time.monotonic() + 120  # a hang fails the test instead of stalling the suite
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        os.close(leader)
    out = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0 and "finished 3" in out, out[-2000:]
    assert "exp[/x] :smile:" in out  # shown, and as typed


def test_a_stored_study_reopened_says_it_resumes_once(tmp_path, capsys):
    import moo_hpo as mh

    def study():
        return mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], name="runs", optimizer="random", seed=0,
                        storage=tmp_path / "s.db")

    with study() as first:
        first.optimize(lambda c: {"f": c["x"]}, n_trials=2)
        first.optimize(lambda c: {"f": c["x"]}, n_trials=1)  # the same open study: nothing resumed
    assert "resuming" not in capsys.readouterr().err
    with study() as again:  # the script run again: its trials add to the file's
        again.optimize(lambda c: {"f": c["x"]}, n_trials=2)
        said = capsys.readouterr().err
        assert f"resuming 'runs' from {tmp_path / 's.db'}: 3 trials stored; this call runs 2 more" in said, said
        again.optimize(lambda c: {"f": c["x"]}, n_trials=1)
        assert "resuming" not in capsys.readouterr().err  # said once
    with study() as quiet:
        quiet.optimize(lambda c: {"f": c["x"]}, n_trials=1, show_progress=False)
        quiet.optimize(lambda c: {"f": c["x"]}, n_trials=1)  # its second call: nothing to say (it said 6 before)
        assert "resuming" not in capsys.readouterr().err
