"""Typed tools, one module each; the table that lists them is ``anypix.tools.registry``."""
