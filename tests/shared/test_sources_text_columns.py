"""read_tables(text_columns=...): CSV id columns read as text keep their leading zeros."""

from __future__ import annotations

import polars as pl

from shared.sources import read_tables, write_folder


def test_csv_id_columns_read_as_text_when_asked_or_zero_padded(tmp_path):
    frame = pl.DataFrame({"id": ["0007", "0100"], "code": ["7", "100"], "n": [1, 2]})
    write_folder(tmp_path, {"t": frame}, fmt="csv")
    inferred = read_tables(str(tmp_path), ["t"])["t"]
    assert inferred["id"].to_list() == ["0007", "0100"]  # leading zeros: never inferred away
    assert inferred["code"].to_list() == [7, 100]  # inferred unless declared text
    kept = read_tables(str(tmp_path), ["t"], text_columns={"t": ["code", "absent"]})["t"]
    assert kept["code"].to_list() == ["7", "100"] and kept["n"].dtype == pl.Int64
