"""Loading torch, GPyTorch and BoTorch whole, a Ctrl-C during the import held back until they have loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_ctrl_c_while_the_libraries_load_leaves_them_whole_and_the_study_goes_on():
    # a fresh interpreter: torch is not imported yet, as in a notebook at its first model step
    code = textwrap.dedent("""
        import os, signal, sys, threading
        import moo_hpo as mh

        space = mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)})
        f = lambda c: {"a": c["x"], "b": (1 - c["x"]) ** 2 + c["y"]}
        study = mh.Study(space, [mh.Minimize("a", ref=1.5), mh.Minimize("b", ref=2.5)], optimizer=mh.optimizers.EHVI(n_init=6),
                         seed=1)
        study.optimize(f, n_trials=7, show_progress=False)  # the Sobol design and the noise check: no torch yet
        assert "torch" not in sys.modules
        threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()  # within import torch (about 1 s)
        try:
            study.optimize(f, n_trials=3, show_progress=False)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        import torch
        assert torch.fx is not None  # whole, not "partially initialized"
        study.optimize(f, n_trials=1, show_progress=False)  # the next cell
        print("went on", study.trials[-1].extra["optimizer"]["acquisition"], flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0] == "interrupted" and done.stdout.splitlines()[1].startswith("went on")
    assert "Ctrl-C: stopping in a moment, once torch, GPyTorch and BoTorch finish loading" in done.stderr
