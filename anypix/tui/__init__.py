"""The Textual terminal UI (imports textual; the core never imports this package).

    from anypix.tui import run_tui
    run_tui()                      # the most recent session, the configured model and planner

``AnypixApp(studio, session_name)`` is the app itself, for a Studio built by the caller (tests
inject a planner and a renderer).
"""

from anypix.tui.app import AnypixApp, run_tui

__all__ = ["AnypixApp", "run_tui"]
