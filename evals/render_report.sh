#!/usr/bin/env bash
# Render an eval report's HTML to a PNG with headless Chromium, fully offline.
#
#   evals/render_report.sh reports/20261121-101500            # -> reports/20261121-101500/report.png
#   evals/render_report.sh reports/20261121-101500/report.html out.png 1400 4000
#
# Arguments: report directory or report.html, output PNG (default: report.png next to the HTML),
# window width and height in pixels (default 1280 x 3600; the page is cut at the height).
# Needs chromium (Debian: apt-get install -y chromium). The report is self-contained (inline CSS,
# plots as base64 PNG), and the flags below keep Chromium from any background network traffic.
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: $0 <report dir or report.html> [out.png] [width] [height]" >&2
  exit 2
fi
src="$1"
[ -d "$src" ] && src="$src/report.html"
if [ ! -f "$src" ]; then
  echo "error: no report at $src" >&2
  exit 1
fi
out="${2:-$(dirname "$src")/report.png}"
width="${3:-1280}"
height="${4:-3600}"

browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$browser" ]; then
  echo "error: chromium not found; install it (apt-get install -y chromium) or set CHROMIUM=/path/to/chrome" >&2
  exit 1
fi

# A throw-away profile: nothing from (or to) the user's browser profile.
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
abs_src="$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
abs_out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --no-first-run --disable-sync --disable-extensions --disable-default-apps --hide-scrollbars \
  --user-data-dir="$profile" --window-size="${width},${height}" --screenshot="$abs_out" \
  "file://$abs_src" >/dev/null 2>&1

if [ ! -s "$abs_out" ]; then
  echo "error: chromium wrote no screenshot to $abs_out" >&2
  exit 1
fi
echo "$abs_out"
