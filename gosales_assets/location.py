"""The gosales code location's constants: asset-key prefix ``gosales``, partition
dimension ``division``, registered models ``gosales_<division>``."""

from __future__ import annotations

from shared.location import Location

LOCATION = Location("gosales", "division", "gosales")
