"""Sessions, turns, assets and lineage in SQLite.

- ``tables``, ``migrations``, ``db``: the schema, its ordered migrations, opening a database.
- ``assets``: the content-addressed store and the validation of every file on its way in.
- ``turns``: recording a finished turn in one transaction.
- ``sessions``, ``history``: sessions as trees of turns; undo, redo, branch, list, show.
- ``archive``, ``replay``: export/import a session; re-run a turn and compare pixels.

Front ends use :class:`anypix.Studio` rather than these modules directly.
"""
