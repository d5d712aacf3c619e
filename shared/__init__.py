"""Library code shared by the three salesml code locations.

Nothing here imports a code location, and nothing here holds domain logic: see
``docs/shared_api.md`` for the one place each concept lives.
"""
