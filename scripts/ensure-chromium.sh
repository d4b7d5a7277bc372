#!/bin/sh
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser test (test/browser). Installs it with apt-get
# when running as root on a Debian-like system; otherwise explains what to do. Never downloads browsers any other way
# (no `playwright install`). Always exits 0: without Chromium the browser test skips with a message.
CHROMIUM=${RONDO_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM missing; installing Debian's chromium with apt-get (about 30 s)" >&2
  if apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; then
    echo "ensure-chromium: installed $(command -v chromium)" >&2
    exit 0
  fi
  echo "ensure-chromium: apt-get install chromium failed; the browser test will be skipped" >&2
  exit 0
fi
echo "ensure-chromium: $CHROMIUM not found and cannot install it here (needs root and apt-get)." >&2
echo "ensure-chromium: install Chromium (e.g. sudo apt-get install chromium) or set RONDO_CHROMIUM; the browser test will be skipped." >&2
exit 0
