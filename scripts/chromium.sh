#!/usr/bin/env bash
# Headless Chromium for the browser test of the Dagster UI (tests/shared/test_ui_browser.py)
# and the documentation screenshots (scripts/screenshots.py).
#
#   bash scripts/chromium.sh install   install Debian's chromium if missing
#   bash scripts/chromium.sh env       print SALESML_TEST_CHROMIUM=<path> when it is installed
#
# Debian's package, not a browser downloaded by Playwright: the Python `playwright` package
# (requirements.lock) only drives it. If it cannot be installed, `install` says why and exits
# 0 without a path: the browser test then skips locally and fails under CI=true
# (tests/conftest.py), so a missing browser is never silent in CI.
set -uo pipefail
# shellcheck source=scripts/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

find_browser() {
  local b
  for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null; then command -v "$b"; return 0; fi
  done
  return 1
}

install() {
  if find_browser >/dev/null; then return 0; fi
  apt_install chromium.sh --no-install-recommends chromium fonts-dejavu-core \
    || echo "chromium.sh: no Chromium; the browser test will not run" >&2
  return 0
}

case "${1:-}" in
  install) install ;;
  env) if b=$(find_browser); then echo "SALESML_TEST_CHROMIUM=$b"; fi ;;
  *) echo "usage: $0 install|env" >&2; exit 2 ;;
esac
