"""The Textual terminal UI (imports textual; the core never imports this package)."""
