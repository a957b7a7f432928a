#!/usr/bin/env bash
# Headless Chromium (Debian's package) for the tests that render report.html and the trend
# page and check them. Best effort, idempotent: where there is no root apt-get, those tests
# say why and skip; nothing else needs a browser.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian's chromium for the HTML rendering tests (about a minute)" >&2
  if ! (timeout 900 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium) \
      >/dev/null 2>&1; then
    echo "(chromium could not be installed; the HTML rendering tests will skip and say so)" >&2
  fi
else
  echo "(no chromium and no root apt-get to install it: the HTML rendering tests will skip and say so)" >&2
fi
exit 0
