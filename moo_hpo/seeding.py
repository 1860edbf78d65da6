"""The one way moo_hpo derives seeds: a study's seed plus a few integers, through NumPy's ``SeedSequence``.

Every stochastic part (a trial's own seed, an optimizer's model fits and acquisition starts) takes its
seed from :func:`derive_seed`, so the same study seed gives the same study, and a resumed study, which
re-derives every seed from counts it can recompute, continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ENQUEUE_SEED_TAG", "TRIAL_SEED_TAG", "derive_seed"]

#: The first part of a trial's seed, which keeps trial seeds apart from the optimizers' seeds.
TRIAL_SEED_TAG = 7
#: The first part of the seed that draws the parameters a queued configuration leaves out (Study.enqueue).
ENQUEUE_SEED_TAG = 17


def derive_seed(seed: int, *parts: int) -> int:
    """A 31-bit seed from ``seed`` and ``parts`` (well mixed: nearby inputs give unrelated seeds).

    Args:
        seed: the study's seed (any integer; taken modulo 2**64).
        *parts: non-negative integers that name the use (counts, tags).

    Returns:
        An integer in ``[0, 2**31)``.
    """
    return int(np.random.SeedSequence([int(seed) % 2**64, *parts]).generate_state(1)[0] >> 1)
