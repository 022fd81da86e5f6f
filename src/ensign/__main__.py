"""`python -m ensign` runs the command line."""

from ensign.cli import main

main()
