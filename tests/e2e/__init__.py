"""End-to-end tests: the web app in headless Chromium against the whole stack."""
