"""Files only the market's own user may read: the data dir 0700, its files 0600.

Modes are set explicitly (fchmod, chmod), so a loose umask (022 gives 0644 files) changes
nothing, and files left by an older version with looser modes are tightened on start.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite's journal files beside a database: it gives new ones the database's own mode,
# but ones left behind by an older version keep theirs.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create the directory `path` (and its parents) if missing, and make it 0700.

    Only `path` itself is tightened: its parents (a home, /tmp) are not the market's.
    """
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if it is missing, 0600 from the first instant; else tighten it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)  # no O_TRUNC: keep its data
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def private_database(path: Path) -> Path:
    """A SQLite database file (an empty file is a new database) and its journals, 0600."""
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, FILE_MODE)
    return path
