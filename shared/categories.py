"""Category values met at scoring that training never saw: counted, never silently merged.

A model's encoding maps a value it never saw to "no column set" / an "unknown" code, so its
prediction for such a row is the reference category's: correct code, wrong silence. This
module counts them per column so the scoring step can report and warn (Dagster-free).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

UNSEEN_WARN_SHARE = 0.05
"""Default share of scored rows with an unseen value above which a check warns."""

NULL = "(null)"
COLUMNS = {
    "column": pl.Utf8,
    "rows": pl.Int64,
    "unseen": pl.Int64,
    "share": pl.Float64,
    "examples": pl.Utf8,
}


def unseen_categories(
    known: Mapping[str, Iterable[object]], frame: pl.DataFrame, max_examples: int = 5
) -> pl.DataFrame:
    """Per column named in ``known`` (column → values seen at training): how many rows of
    ``frame`` hold a value not among them.

    Values are compared as text (a null is the value ``"(null)"``). A list column (several
    values per row, e.g. the steps a lead was sent) counts a row as unseen when any of its
    values is. A column of ``known`` missing from ``frame`` counts every row as unseen. Out:
    ``column, rows, unseen, share, examples`` (up to ``max_examples`` unseen values, most
    frequent first, comma-separated).
    """
    rows = []
    for col, values in known.items():
        seen = [NULL if v is None else str(v) for v in values]
        if col not in frame.columns:
            values_of = pl.DataFrame({"_row": range(frame.height), "v": "(column missing)"})
        else:
            one = frame.select(pl.int_range(pl.len()).alias("_row"), pl.col(col).alias("v"))
            if isinstance(frame.schema[col], pl.List):
                one = one.explode("v")  # an empty list adds a null: nothing was sent
                one = one.filter(pl.col("v").is_not_null())
            values_of = one.with_columns(pl.col("v").cast(pl.Utf8).fill_null(NULL))
        unseen = values_of.filter(~pl.col("v").is_in(seen))
        n = unseen["_row"].n_unique()
        top = unseen["v"].value_counts(sort=True).head(max_examples)["v"].to_list()
        rows.append(
            {
                "column": col,
                "rows": frame.height,
                "unseen": n,
                "share": n / frame.height if frame.height else 0.0,
                "examples": ", ".join(str(v) for v in top),
            }
        )
    return pl.DataFrame(rows, schema=COLUMNS)
