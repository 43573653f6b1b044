"""Open every page of the built book in headless Chromium and check it really works.

Each page must load, every image on it must have loaded (complete, non-zero width), and the
browser console must hold no JavaScript error. Uses Debian's ``chromium`` and
``chromium-driver`` through Selenium; nothing is downloaded.

    python .ci/browser_check.py _build/html
"""
from __future__ import annotations

import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900"]
IMAGES_OK = """return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);"""


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main(folder: str = "_build/html") -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    root = Path(folder)
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                   if not p.relative_to(root).parts[0].startswith(("_", ".")))
    shots = root.parent / "browser-screenshots"
    shots.mkdir(exist_ok=True)
    if not pages:
        print(f"no pages under {root}: build the book first (make book)")
        return 1
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        print("Debian's chromium and chromium-driver are needed: apt-get install -y chromium chromium-driver")
        return 1
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    server, base = serve(root)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    failures = []
    try:
        for page in pages:
            driver.get(f"{base}/{page}")
            title = driver.title
            broken = driver.execute_script(IMAGES_OK)
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            images = driver.execute_script("return document.images.length;")
            driver.save_screenshot(str(shots / (page.replace("/", "_") + ".png")))
            status = "ok" if not broken and not errors and title else "FAIL"
            print(f"{status:4} {page}  ({images} images) {title!r}")
            if broken:
                failures.append(f"{page}: images that did not load: {broken}")
            if errors:
                failures.append(f"{page}: JavaScript errors: {errors}")
            if not title:
                failures.append(f"{page}: no title (did it load?)")
    finally:
        driver.quit()
        server.shutdown()
    for f in failures:
        print("FAIL", f)
    bad = len({f.split(":")[0] for f in failures})
    print(f"browser check: {len(pages) - bad} of {len(pages)} pages load cleanly")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
