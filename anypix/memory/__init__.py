"""Sessions, turns, assets and lineage in SQLite."""
