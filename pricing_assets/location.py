"""The pricing code location's constants: asset-key prefix ``pricing``, partition
dimension ``bu_id``, registered models ``pricing_recs_<bu_id>``."""

from __future__ import annotations

from shared.location import Location

LOCATION = Location("pricing", "bu_id", "pricing_recs")
DIMS = LOCATION.dims
model_name = LOCATION.model_name
"""Registered MLflow model name of a business unit (``pricing_recs_<bu_id>``)."""
