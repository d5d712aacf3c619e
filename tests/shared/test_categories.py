"""shared.categories: values unseen at training are counted per column, with examples."""

from __future__ import annotations

import polars as pl

from shared.categories import unseen_categories


def test_unseen_values_counted_with_share_and_most_frequent_examples():
    frame = pl.DataFrame({"src": ["a", "b", "z", "z", "y", None], "n": [1, 2, 3, 4, 5, 6]})
    out = unseen_categories({"src": ["a", "b"], "n": [1, 2, 3, 4, 5, 6], "gone": ["q"]}, frame)
    rows = {r["column"]: r for r in out.iter_rows(named=True)}
    assert rows["src"]["unseen"] == 4 and rows["src"]["share"] == 4 / 6
    assert rows["src"]["examples"].split(", ")[0] == "z"  # most frequent first
    assert "(null)" in rows["src"]["examples"]  # a null training never had is unseen too
    assert rows["n"]["unseen"] == 0 and rows["n"]["examples"] == ""  # compared as text
    assert rows["gone"]["unseen"] == 6  # a column the frame lacks: every row unseen
    seen_null = unseen_categories({"src": ["a", "b", "z", "y", None]}, frame)
    assert seen_null["unseen"].to_list() == [0]


def test_empty_frame_has_zero_share():
    out = unseen_categories({"src": ["a"]}, pl.DataFrame({"src": []}, schema={"src": pl.Utf8}))
    assert out.row(0, named=True) == {
        "column": "src", "rows": 0, "unseen": 0, "share": 0.0, "examples": ""
    }  # fmt: skip


def test_list_column_row_is_unseen_when_any_value_is():
    frame = pl.DataFrame({"steps": [["a", "b"], [], ["c"], ["c", "d"]]})
    row = unseen_categories({"steps": ["a", "b"]}, frame).row(0, named=True)
    assert (row["unseen"], row["rows"], row["examples"]) == (2, 4, "c, d")
