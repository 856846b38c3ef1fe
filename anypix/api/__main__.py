"""``python -m anypix.api``: serve the MCP tools over stdio, or ``--http`` (see ``--help``)."""

from anypix.api.server import main

main()
