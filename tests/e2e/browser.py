"""Driving Debian's chromium with Playwright: finding the browser, screenshots, axe-core.

The browser is never downloaded (`playwright install` cannot reach its servers here);
`make test` installs Debian's chromium where it can. Without it the browser tests skip,
except in CI, where a chromium that could have been installed is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("EARNEST_CHROMIUM", "/usr/bin/chromium"))
# No sandbox: tests run as root in containers. No background networking: the machine's
# closed network refuses chromium's own connections (updates, safe browsing).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
BLOCKING = ("serious", "critical")


def chromium_path() -> str:
    """The chromium to drive, or skip (fail in CI where it could have been installed)."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    installable = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    message = (
        f"no chromium at {CHROMIUM}: `make test` installs Debian's chromium as root "
        "(apt-get install chromium); set EARNEST_CHROMIUM to use another"
    )
    if os.environ.get("CI") == "true" and installable:
        pytest.fail(f"{message}; in CI it could have been installed")
    pytest.skip(message)


def launched() -> Iterator[Any]:
    """A headless chromium for one test module."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shoot(
    page: Any,
    name: str,
    *,
    widths: tuple[dict[str, int], ...] = (DESKTOP, PHONE),
    locale: str | None = None,
) -> None:
    """Full-page screenshots at desktop and phone width; the page must fit either width.

    With `locale`, the file names end in it: `feed-375_ar.png`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size in widths:
        page.set_viewport_size(size)
        page.wait_for_timeout(50)  # let the layout settle at the new width
        suffix = f"_{locale}" if locale else ""
        path = SCREENSHOTS / f"{name}-{size['width']}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= size["width"], f"{page.url} is {wide} px wide at {size['width']} px"
    if before:
        page.set_viewport_size(before)


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING
    ]
