#!/bin/sh
# Makes, on first use, a Python venv holding the schemathesis pinned in schemathesis-requirements.txt, under
# ${XDG_CACHE_HOME:-$HOME/.cache}/rondo/schemathesis-<version>, and prints the path of its `schemathesis` command.
# Later runs find it there (a stamp holds the requirements' checksum: edit the pins and the venv is rebuilt).
# On failure it prints ONE line saying what is missing and exits non-zero; test/api/schemathesis.test.ts then skips.
set -u
here=$(cd "$(dirname "$0")" && pwd)
req="$here/schemathesis-requirements.txt"
version=$(sed -n 's/^schemathesis==//p' "$req")
dir="${XDG_CACHE_HOME:-$HOME/.cache}/rondo/schemathesis-$version"
bin="$dir/bin/schemathesis"
sum=$(cksum < "$req")

if [ -x "$bin" ] && [ "$(cat "$dir/.rondo-stamp" 2>/dev/null)" = "$sum" ]; then
  echo "$bin"
  exit 0
fi
command -v python3 > /dev/null 2>&1 || { echo "no python3 on PATH (install Python 3.9 or newer)" >&2; exit 3; }
mkdir -p "$(dirname "$dir")"
# One installer at a time: a second caller waits for the first (up to 10 minutes), then uses its venv.
lock="$dir.lock"
i=0
until mkdir "$lock" 2> /dev/null; do
  i=$((i + 1))
  [ "$i" -gt 600 ] && { echo "timed out waiting for $lock (remove it if no install is running)" >&2; exit 4; }
  sleep 1
done
trap 'rmdir "$lock"' EXIT
if [ -x "$bin" ] && [ "$(cat "$dir/.rondo-stamp" 2>/dev/null)" = "$sum" ]; then
  echo "$bin"
  exit 0
fi
rm -rf "$dir"
log="$dir.install.log"
if ! python3 -m venv "$dir" > "$log" 2>&1; then
  rm -rf "$dir"
  echo "python3 -m venv failed (on Debian: apt-get install python3-venv); see $log" >&2
  exit 5
fi
if ! "$dir/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" >> "$log" 2>&1; then
  rm -rf "$dir"
  echo "pip could not install schemathesis $version (no access to PyPI?); see $log" >&2
  exit 6
fi
echo "$sum" > "$dir/.rondo-stamp"
echo "$bin"
