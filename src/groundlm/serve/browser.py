"""Headless Chromium for driving the served page: the browser test and the screenshots in docs/serve.md. Needs the
``browser`` extra (selenium) and Debian's ``chromium`` and ``chromium-driver`` (``make browser-test`` installs
them). The flags keep Chromium off the network: no background services, no component updates, no sync."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def headless_chromium(user_data_dir: str | Path, window: tuple[int, int] = (1100, 760)) -> Any:
    """A selenium ``WebDriver`` on a fresh headless Chromium profile in ``user_data_dir``."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found: `make browser-test` installs Chromium and its driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--window-size={window[0]},{window[1]}", f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    return driver
