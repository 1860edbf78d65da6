"""Data that ships with moo_hpo: the UCI Adult census data (CC BY 4.0, Becker & Kohavi, 1996).

Used by the demo, the fairness examples and the tests; no network is needed. ``load_adult("train")`` and
``load_adult("test")`` are the data set's own training and test files; :meth:`AdultSplit.split` cuts one of
them into two disjoint parts, e.g. training and validation rows, leaving the test file as a held-out split.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_integer

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ADULT_CATEGORICAL", "ADULT_NUMERIC", "AdultSplit", "load_adult"]

#: The numeric columns of ``AdultSplit.X`` (use them as they are, or scale them).
ADULT_NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
#: The categorical columns of ``AdultSplit.X`` (strings: one-hot encode them, e.g. with scikit-learn's
#: ``OneHotEncoder(handle_unknown="ignore")`` in a ``ColumnTransformer``).
ADULT_CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]


@dataclass
class AdultSplit:
    """One split of the Adult data.

    Attributes:
        X: the features (numeric and categorical columns, missing values as NaN).
        y: 1 for income ``>50K``, else 0.
        sensitive: the ``sex`` and ``race`` columns.
    """

    X: pd.DataFrame
    y: np.ndarray
    sensitive: pd.DataFrame

    def split(self, n: int, seed: int = 0) -> tuple[AdultSplit, AdultSplit]:
        """Two disjoint parts of these rows: a random ``n`` of them (stratified by label) and the rest.

        For a train / validation split of one file, e.g. ``train, valid = load_adult("train", n=12000).split(8000)``,
        with ``load_adult("test")`` as the held-out test split.

        Args:
            n: rows in the first part (the second gets the rest).
            seed: seed of the draw.

        Returns:
            The two parts, each in the original row order.

        Raises:
            ConfigError: unless ``0 < n < len(self.y)``.
        """
        if not is_integer(n) or not 0 < n < len(self.y):
            raise ConfigError(f"n must be an integer in 1..{len(self.y) - 1} (both parts non-empty); received {n!r}")
        first, second = _draw(self.y, n, seed)
        return self._take(first), self._take(second)

    def _take(self, idx: np.ndarray) -> AdultSplit:
        return AdultSplit(X=self.X.iloc[idx].reset_index(drop=True), y=self.y[idx], sensitive=self.sensitive.iloc[idx].reset_index(drop=True))


def _draw(y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random ``n`` of the rows and the rest, each in row order: stratified by label where each part can hold
    every class, else a plain draw."""
    classes = len(np.unique(y))
    if min(n, len(y) - n) >= classes:
        from sklearn.model_selection import train_test_split

        first, second = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    else:
        order = np.random.default_rng(seed).permutation(len(y))
        first, second = order[:n], order[n:]
    return np.sort(first), np.sort(second)


def load_adult(split: str = "train", n: int | None = None, seed: int = 0) -> AdultSplit:
    """Load the bundled Adult census data.

    Args:
        split: ``"train"`` (32,561 rows) or ``"test"`` (16,281 rows).
        n: keep a stratified random subset of ``n`` rows (None keeps all).
        seed: seed of that subset.

    Returns:
        An :class:`AdultSplit`.

    Raises:
        ConfigError: for an unknown split or a bad ``n``.
    """
    import pandas as pd

    files = {"train": "adult.data.csv.gz", "test": "adult.test.csv.gz"}
    if split not in files:
        raise ConfigError(f"split must be 'train' or 'test'; received {split!r}")
    with resources.as_file(resources.files("moo_hpo") / "data" / "adult" / files[split]) as path:
        df = pd.read_csv(path, sep=r",\s*", engine="python", na_values="?", compression="gzip")
    y = df.pop("Y").astype(str).str.rstrip(".").eq(">50K").to_numpy(dtype=int)
    if n is not None:
        if not is_integer(n) or not 0 < n <= len(df):
            raise ConfigError(f"n must be an integer in 1..{len(df)}; received {n!r}")
        idx, _ = _draw(y, n, seed)
        df, y = df.iloc[idx].reset_index(drop=True), y[idx]
    return AdultSplit(X=df, y=y, sensitive=df[["sex", "race"]].copy())
