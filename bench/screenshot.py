"""Takes the README's screenshot of a commune's home page from a running platform (``make run`` first).

.venv/bin/python bench/screenshot.py [http://localhost:8000/] [docs/screenshots/home.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8000/"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else PROJECT / "docs" / "screenshots" / "home.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="fr-FR")
        response = page.goto(url, wait_until="networkidle")
        if response is None or response.status != 200:
            sys.exit(f"{url} did not answer 200: is `make run` running?")
        page.screenshot(path=str(target), full_page=True)
        browser.close()
    print(f"Saved {target}")


if __name__ == "__main__":
    main()
