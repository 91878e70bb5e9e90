#!/usr/bin/env bash
# The README's screenshots of the web page's four views (docs/screenshots/*.png), taken by the
# browser test in Debian's chromium on 2,000 Reuters articles, so that they show the page as it
# is. Run it after changing the page, and commit the images.
#
# usage: scripts/screenshots.sh   (env: DOCS=2000 REUTERS_DIR=/tmp/reuters)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
DOCS=${DOCS:-2000} FEED_SECONDS=${FEED_SECONDS:-1} SCREENSHOTS="$root/docs/screenshots" \
  exec "$root/scripts/browser-test.sh"
