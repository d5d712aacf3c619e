"""Dagster wiring of the leadconv location, one module per stage (domain logic lives in the
parent package and imports no Dagster)."""
