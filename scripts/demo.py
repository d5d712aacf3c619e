"""`make demo`: materialize every asset of the three locations on their embedded worlds.

Prints a summary per location (rows, metrics, gate results), where the
warehouse and MLflow store live, and how to open the UI.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time

LOCATIONS = ("gosales_assets", "pricing_assets", "leadconv_assets")


def main() -> int:
    os.environ.setdefault("SALESML_HOME", os.path.abspath(".salesml"))
    logging.getLogger("dagster").setLevel(logging.WARNING)
    # MLflow: no per-download progress bars or INFO/WARNING lines between the summaries (its
    # warning about pickled pricing models is expected: docs/decisions.md). Registration
    # messages are plain prints in MLflow and stay.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    from shared.demo import demo_instance, run_plan
    from shared.home import dagster_home, home, mlflow_uri, warehouse_path

    os.environ["DAGSTER_HOME"] = str(dagster_home())
    instance = demo_instance()
    only = set(sys.argv[1:])
    summaries, total_failures = [], 0
    started = time.perf_counter()
    for loc in LOCATIONS:
        if only and loc not in only:
            continue
        # a location that cannot be imported is an error of the demo, never a silent skip
        demo = importlib.import_module(f"{loc}.demo")
        defs = importlib.import_module(f"{loc}.definitions").defs
        print(f"[{loc}] materializing …", flush=True)
        result = run_plan(loc, defs, demo.demo_plan(), instance)
        total_failures += len(result.errors)
        print(
            f"[{loc}] {result.runs} runs in {result.seconds:.0f} s; "
            f"{len(result.errors)} errors, {len(result.failed_checks)} failed checks"
        )
        for pk, what in result.errors:
            print(f"    ERROR {pk}: {what}")
        for pk, what in result.failed_checks:
            print(f"    check failed {pk}: {what}")
        summaries.append((loc, demo.summarize()))
    print("\n" + "=" * 78)
    for loc, text in summaries:
        print(f"\n## {loc}\n{text}")
    print("\n" + "=" * 78)
    print(f"home:       {home()}")
    print(
        f"warehouse:  {warehouse_path()}   e.g. duckdb {warehouse_path()} -c 'SELECT * FROM gosales.icp_scores LIMIT 5'"
    )
    print(f"MLflow:     {mlflow_uri()}   (mlflow ui --backend-store-uri {mlflow_uri()})")
    print("UI:         make ui   then open http://127.0.0.1:3000")
    print(f"total time: {time.perf_counter() - started:.0f} s")
    if total_failures:
        print(f"make demo FAILED: {total_failures} step errors (listed above as ERROR)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
