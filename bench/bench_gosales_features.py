"""Benchmark: gosales feature matrix for all divisions at one cutoff (not a test).

1. ``large`` world (200k customers, ~10M transaction lines): wall time and peak
   RSS to build the feature matrix of every division at one cutoff with
   ``gosales_assets.features.build_features`` (polars). Target: <= 10 s on 2 cores.
2. ``demo`` world, in one run: the same features the straightforward pandas way
   (bench/pandas_features.py: per-division groupbys) vs polars; both outputs are
   compared column by column, then the speed ratio is reported. Target: >= 50x.

Each measurement runs in a fresh child process so that peak RSS belongs to it.
Usage: ``make bench`` or ``python bench/bench_gosales_features.py [--skip-large]``.
Results are printed as a markdown table; bench/RESULTS.md records them.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CUTOFF = date(2024, 6, 30)


def _world_folder(size: str) -> Path:
    from shared.home import worlds_dir

    return worlds_dir() / f"bench_gosales_{size}"


def _ensure(size: str) -> tuple[Path, float]:
    """Generate and store the world once; returns (folder, generation seconds or 0 if cached)."""
    from gosales_assets.world import generate_world
    from shared.sources import write_folder

    folder = _world_folder(size)
    if (folder / "_complete").exists():
        return folder, 0.0
    t0 = time.perf_counter()
    world = generate_world(size=size, seed=42, truth_cutoffs=[])
    seconds = time.perf_counter() - t0
    write_folder(folder, world.tables())
    (folder / "_complete").write_text("ok")
    return folder, seconds


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _polars_child(folder: str, queue: mp.Queue) -> None:
    import polars as pl

    from gosales_assets.features import build_features_all
    from gosales_assets.world import DIVISIONS

    tx = pl.read_parquet(f"{folder}/transactions.parquet")
    cu = pl.read_parquet(f"{folder}/customers.parquet")
    ab = pl.read_parquet(f"{folder}/assets.parquet")
    loaded = _rss_mb()
    t0 = time.perf_counter()
    shapes = [f.shape for f in build_features_all(tx, cu, ab, CUTOFF, DIVISIONS).values()]
    seconds = time.perf_counter() - t0
    queue.put(
        {
            "seconds": seconds,
            "peak_rss_mb": _rss_mb(),
            "rss_after_load_mb": loaded,
            "lines": tx.height,
            "customers": cu.height,
            "shapes": shapes,
        }
    )


def _pandas_vs_polars_child(folder: str, queue: mp.Queue) -> None:
    import warnings

    import numpy as np
    import pandas as pd
    import polars as pl

    from bench.pandas_features import build_features_pandas
    from gosales_assets.features import build_features_all

    warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
    from gosales_assets.world import DIVISIONS

    tx = pl.read_parquet(f"{folder}/transactions.parquet")
    cu = pl.read_parquet(f"{folder}/customers.parquet")
    ab = pl.read_parquet(f"{folder}/assets.parquet")
    ptx, pcu, pab = (
        f.with_columns(pl.col(pl.Date).cast(pl.Datetime("ns"))).to_pandas() for f in (tx, cu, ab)
    )
    t0 = time.perf_counter()
    fast = build_features_all(tx, cu, ab, CUTOFF, DIVISIONS)
    t_polars = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = {d: build_features_pandas(ptx, pcu, pab, CUTOFF, list(DIVISIONS), d) for d in DIVISIONS}
    t_pandas = time.perf_counter() - t0
    mismatched = []
    for d in DIVISIONS:
        a, b = fast[d], slow[d]
        if sorted(a.columns) != sorted(b.columns):
            mismatched.append(f"{d}: columns {sorted(set(a.columns) ^ set(b.columns))}")
            continue
        b = b.sort_values("customer_id")
        for col in a.columns:
            if not np.allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-9, atol=1e-6):
                mismatched.append(f"{d}.{col}")
    queue.put(
        {
            "polars_s": t_polars,
            "pandas_s": t_pandas,
            "ratio": t_pandas / t_polars,
            "lines": tx.height,
            "mismatched": mismatched,
        }
    )


def _run(target, folder: Path) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(str(folder), q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> int:
    os.environ.setdefault("SALESML_HOME", str(Path(".salesml").resolve()))
    skip_large = "--skip-large" in sys.argv
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    demo_folder, demo_gen = _ensure("demo")
    cmp_ = _run(_pandas_vs_polars_child, demo_folder)
    print("\n| world | lines | polars (s) | pandas (s) | ratio | outputs equal |")
    print("|---|---|---|---|---|---|")
    print(
        f"| demo | {cmp_['lines']:,} | {cmp_['polars_s']:.2f} | {cmp_['pandas_s']:.2f} | "
        f"{cmp_['ratio']:.0f}x | {'yes' if not cmp_['mismatched'] else 'NO: ' + ', '.join(cmp_['mismatched'][:10])} |"
    )
    result = {"demo": cmp_}
    if not skip_large:
        large_folder, large_gen = _ensure("large")
        big = _run(_polars_child, large_folder)
        print(
            "\n| world | customers | lines | all 6 divisions (s) | peak RSS (MB) | RSS after load (MB) | world generation (s) |"
        )
        print("|---|---|---|---|---|---|---|")
        print(
            f"| large | {big['customers']:,} | {big['lines']:,} | {big['seconds']:.2f} | "
            f"{big['peak_rss_mb']:.0f} | {big['rss_after_load_mb']:.0f} | "
            f"{large_gen:.0f} |"
        )
        result["large"] = big
    out = Path(__file__).with_name("last_run.json")
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nraw figures: {out}")
    ok = not cmp_["mismatched"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
