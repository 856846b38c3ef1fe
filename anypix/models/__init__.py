"""Model presets, loaders, attention processors and the miniworld model family."""
