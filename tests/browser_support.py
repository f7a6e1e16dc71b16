"""What every browser test shares: Debian's chromium, its flags, and the skip rule."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright

CHROMIUM = os.environ.get("PARS_CHROMIUM", "/usr/bin/chromium")
# Headless, and no calls home: the machines have no internet.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def skip_without_chromium() -> None:
    """Under CI a missing chromium is an error (the launch fails); on a laptop a skip."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
