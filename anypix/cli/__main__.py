"""``python -m anypix.cli``."""

from anypix.cli import main

main()
