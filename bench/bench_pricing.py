"""Pricing benchmark: world generation, per-BU training time and quality vs the demo world's truth.

Run: ``.venv/bin/python bench/bench_pricing.py [size] [seed]`` (default ``demo 42``).
Not part of the tests; numbers go to ``docs/data_contracts/pricing.md``.
"""

from __future__ import annotations

import sys
import time

import polars as pl


def main() -> None:
    size = sys.argv[1] if len(sys.argv) > 1 else "demo"
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 42
    from pricing_assets.quality import evaluate_world
    from pricing_assets.world import generate_world

    t0 = time.perf_counter()
    world = generate_world(size, seed)
    gen = time.perf_counter() - t0
    print(
        f"world {size}/{seed}: {world.order_lines.height} lines, {world.quotes.height} quotes, {gen:.2f} s"
    )
    t0 = time.perf_counter()
    q = evaluate_world(size, seed)
    print(f"train + evaluate all business units: {time.perf_counter() - t0:.1f} s")
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(200)
    for k, v in q.summary.items():
        print(f"{k:28s} {v:.4f}")
    print(q.coverage)
    print(q.per_bu)


if __name__ == "__main__":
    main()
