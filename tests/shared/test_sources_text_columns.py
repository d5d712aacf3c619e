"""read_tables(text_columns=...): CSV id columns read as text keep their leading zeros."""

from __future__ import annotations

import polars as pl

from shared.sources import read_tables, write_folder


def test_csv_id_columns_read_as_text_only_when_asked(tmp_path):
    frame = pl.DataFrame({"id": ["0007", "0100"], "n": [1, 2]})
    write_folder(tmp_path, {"t": frame}, fmt="csv")
    inferred = read_tables(str(tmp_path), ["t"])["t"]
    assert inferred["id"].to_list() == [7, 100]  # what CSV inference does to ids
    kept = read_tables(str(tmp_path), ["t"], text_columns={"t": ["id", "absent"]})["t"]
    assert kept["id"].to_list() == ["0007", "0100"] and kept["n"].dtype == pl.Int64
