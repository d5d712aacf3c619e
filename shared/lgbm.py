"""LightGBM classifier settings shared by the gosales and leadconv candidates.

Each location subclasses :class:`LGBMSettings` in its config to change defaults
(tree size, regularisation); the estimator is built in one place so seeds,
determinism and threading are the same everywhere.
"""

from __future__ import annotations

from typing import Any

from shared.config import StrictModel


class LGBMSettings(StrictModel):
    """Hyper-parameters of a binary LightGBM classifier (fixed seed, deterministic);
    unknown keys are rejected like everywhere else in a config."""

    seed: int = 42
    n_estimators: int = 600
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 40
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    reg_lambda: float = 1.0
    # One thread: tests run two xdist workers and the multiprocess executor runs steps side by
    # side; LightGBM threads oversubscribing two cores slow a fit down 10-20x.
    num_threads: int = 1

    def classifier(self) -> Any:
        """An unfitted ``lightgbm.LGBMClassifier`` with these settings (row-wise, deterministic)."""
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            colsample_bytree=self.feature_fraction,
            subsample=self.bagging_fraction,
            subsample_freq=1,
            reg_lambda=self.reg_lambda,
            random_state=self.seed,
            n_jobs=self.num_threads,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
