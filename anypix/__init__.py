"""anypix."""
