"""Warnings that point at the user's code: the line of their script that led to them, not a line of moo_hpo.

Python's ``stacklevel`` counts frames from the call of :func:`warnings.warn`; a warning raised deep in a study's loop
(after a trial, from a check the loop runs) sits at a depth that varies with the path taken, so a fixed count points
into moo_hpo. :func:`warn` counts the frames up to the first one outside the package instead.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

__all__ = ["MooHpoWarning", "warn"]

_PACKAGE = str(Path(__file__).resolve().parent)


class MooHpoWarning(UserWarning):
    """A warning of moo_hpo's about the user's study (the command line shows it as one line, wherever it points)."""


def warn(message: str, category: type[Warning] = MooHpoWarning) -> None:
    """Issue ``message`` as a warning of ``category``, attributed to the first caller outside moo_hpo (the user's
    line that called into the study; in a thread, the thread's own start when moo_hpo started it)."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2: the frame that called warn
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE + os.sep):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level if frame is not None else level - 1)
