"""Wall time and numbers of the gosales leakage gauntlet on a generated world.

``python -m bench.gauntlet_timing demo hardware printers`` (size, then divisions; none =
every configured division; the packaged config's latest cutoff and training settings).
For each division it prints the time to build the frames and to run the whole gauntlet
(all eight checks, the four time checks of ``gauntlet_extra`` included), the time of each
check, every gauntlet number, the shift-grid and SAFE tables, and two planted bad cases
on the same frames: an undated leaked column (label + N(0, 0.3) noise) for
``too_good_to_be_true`` and labels shuffled on train and holdout for the permutation test.
At the end: the whole gauntlet's time for all the divisions and each check's sum.
Figures are in docs/results.md and bench/RESULTS.md.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import polars as pl

from gosales_assets import gauntlet, training
from gosales_assets.config import load_config
from gosales_assets.gauntlet_extra import Tables
from gosales_assets.world import generate_world


def main(size: str, divisions: list[str]) -> None:
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    world = generate_world(size=size, seed=42)
    print(f"{size} world: {time.perf_counter() - start:.1f} s, {world.customers.height} customers")
    cfg = load_config()
    cutoff = max(cfg.cutoffs)
    sums: dict[str, float] = {}
    whole = 0.0
    for div in divisions or cfg.divisions:
        start = time.perf_counter()
        window = cfg.label_window(world.transactions, world.customers, div, cutoff).months
        fr = training.training_frames(
            customers=world.customers,
            transactions=world.transactions,
            install_base=world.assets,
            cutoff=cutoff,
            division=div,
            divisions=cfg.divisions,
            window_months=window,
            cfg=cfg.training,
        )
        frames_s = time.perf_counter() - start
        start = time.perf_counter()
        tables = Tables(
            world.transactions, world.customers, world.assets, cfg.divisions, div, cutoff, window
        )
        rep = gauntlet.gauntlet_report(
            fr.train, fr.holdout, fr.features, cfg.training, cfg.gauntlet, tables=tables
        )
        total = time.perf_counter() - start
        whole += frames_s + total
        for k, v in rep.seconds.items():
            sums[k] = sums.get(k, 0.0) + v
        nums = {k: round(v, 4) for k, v in rep.numbers().items()}
        print(f"{div}: frames {frames_s:.1f} s, gauntlet {total:.1f} s, train {fr.train.shape}")
        print(f"  {nums}")
        for name, r in rep.reports.items():
            print(f"  {name}: {r.summary()}")
        ex = rep.extra
        with pl.Config(tbl_rows=20, tbl_cols=20, tbl_width_chars=200):
            print(ex.shift.table)
            print(ex.safe.table, f"far holdout {ex.safe.far_cutoff}, policy {ex.safe.policy}")
            print(ex.group_cv.folds.drop("eval_snapshot"))
            print(ex.dates.families.drop("features_after_cutoff"))
        top = rep.univariate.table.head(1).row(0) if rep.univariate.table.height else None
        print(f"  best honest feature: {top[:2] if top else None}")
        rng = np.random.default_rng(0)

        def leak(f: pl.DataFrame, rng: np.random.Generator = rng) -> pl.DataFrame:
            noise = pl.Series(rng.normal(scale=0.3, size=f.height))
            return f.with_columns(usr_leak=pl.col("label") + noise)

        uni = gauntlet.too_good_to_be_true(
            leak(fr.train), leak(fr.holdout), [*fr.features, "usr_leak"], cfg.gauntlet
        )
        auc = uni.table.filter(pl.col("feature") == "usr_leak")["holdout_auc"]
        print(f"  leaked usr_leak: AUC {auc[0]:.4f}, flagged {uni.flagged}")

        def shuffle(f: pl.DataFrame, rng: np.random.Generator = rng) -> pl.DataFrame:
            return f.with_columns(label=pl.Series(rng.permutation(f["label"].to_numpy())))

        perm = gauntlet.permutation_test(
            shuffle(fr.train), shuffle(fr.holdout), fr.features, cfg.gauntlet
        )
        print(
            f"  shuffled labels: observed {perm.observed:.4f}, null mean {perm.null_mean:.4f}, "
            f"margin {perm.margin:.4f}, p {perm.p_value:.3f}, passed {perm.report.passed}"
        )
    print(
        f"whole gauntlet, {len(divisions or cfg.divisions)} divisions at {cutoff}: "
        f"{whole:.1f} s (frames included)"
    )
    print(
        "  per check (sum over divisions): " + ", ".join(f"{k} {v:.1f} s" for k, v in sums.items())
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo", sys.argv[2:])
