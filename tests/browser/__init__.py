"""The pages in a real browser: Debian's Chromium under Playwright, axe-core (harness.py).

``npm ci --prefix tests/browser`` installs axe-core from the lock file; ``apt-get install -y
chromium`` the browser. Without them the tests are skipped (under ``CI=true`` they fail).
"""
