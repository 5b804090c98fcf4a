"""`python -m earnest` and the `earnest` command (pyproject's script entry point)."""

import os
import shutil
import sys

HELP_WIDTH = 120  # columns of help when the output is not a terminal (piped, in a file)


def main() -> None:
    """Set the help's width, then run the CLI. typer reads TERMINAL_WIDTH once, when it is
    first imported, and otherwise cuts help piped to a file at 80 columns."""
    if "TERMINAL_WIDTH" not in os.environ:
        columns = shutil.get_terminal_size((HELP_WIDTH, 24)).columns
        os.environ["TERMINAL_WIDTH"] = str(columns if sys.stdout.isatty() else HELP_WIDTH)
    from earnest.cli import main as run

    run()


if __name__ == "__main__":
    main()
