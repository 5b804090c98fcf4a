"""`python -m earnest` runs the CLI."""

from earnest.cli import main

main()
