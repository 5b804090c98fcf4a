"""Every failure of `earnest` is one line on stderr and exit code 2; `--debug` shows the
traceback. Run as a user runs it: `python -m earnest` in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from earnest import __version__

SRC = Path(__file__).resolve().parents[2] / "src"


def earnest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    for name in ("EARNEST_DATA_DIR", "EARNEST_URL", "EARNEST_API_KEY", "TERMINAL_WIDTH"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "earnest", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "bad.json").write_text('{"title": "x",\n  oops}\n')
    (tmp_path / "spec.json").write_text('{"title": "x"}')
    (tmp_path / "tasks.csv").write_text("text\nhello\n")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("campaign", "create", "missing.json"), "missing.json: No such file or directory"),
        (("campaign", "create", "bad.json"), "bad.json is not JSON"),
        (("tasks", "upload", "c1", "missing.csv"), "missing.csv: No such file or directory"),
        (
            ("campaign", "create", "spec.json", "--url", "127.0.0.1:8000"),
            "the market's URL is not valid",
        ),
        (
            ("campaign", "status", "c1", "--url", "ftp://127.0.0.1:8000"),
            "the market's URL is not valid",
        ),
        (("campaign", "create", "spec.json", "--url", "http://127.0.0.1:{port}"), "cannot reach"),
        (
            ("tasks", "upload", "c1", "tasks.csv", "--url", "http://127.0.0.1:{port}"),
            "cannot reach",
        ),
        (("reconcile", "--data-dir", "no-such-market"), "holds no market"),
    ],
)
def test_an_error_is_one_line_and_exit_code_2(
    files: Path, args: tuple[str, ...], says: str
) -> None:
    port = str(closed_port())
    run = earnest(*(a.replace("{port}", port) for a in args), cwd=files)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ") and says in lines[0], lines[0]
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_debug_shows_the_traceback(files: Path) -> None:
    run = earnest("--debug", "campaign", "create", "missing.json", cwd=files)
    assert run.returncode != 0
    assert "Traceback" in run.stderr or "FileNotFoundError" in run.stderr
    assert len(run.stderr.splitlines()) > 5


def test_version(tmp_path: Path) -> None:
    run = earnest("--version", cwd=tmp_path)
    assert (run.returncode, run.stdout.strip()) == (0, f"earnest {__version__}")


def test_help_piped_to_a_file_is_not_cut_at_80_columns(tmp_path: Path) -> None:
    run = earnest("node", "--help", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "--max-bytes-per-day" in run.stdout and "http://127.0.0.1:8000" in run.stdout
    assert "…" not in run.stdout
