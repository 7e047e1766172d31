#!/usr/bin/env bash
# What `make test-browser` needs beyond `make install`: a Chromium on PATH. Debian's `chromium`
# package is installed with apt when none is there (as root, or through sudo); Playwright (the
# `browser` extra) then drives that binary, so no browser build is downloaded.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "${LTKIT_CHROMIUM:-}" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_browser.sh: no chromium on PATH and no apt-get here; install Chromium and set" \
         "LTKIT_CHROMIUM=/path/to/chromium" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "install_browser.sh: installing chromium needs root (apt-get install chromium); run that," \
             "or set LTKIT_CHROMIUM=/path/to/chromium" >&2
        exit 1
    fi
fi
echo "install_browser.sh: apt-get install chromium (Debian's package, about 100 MB)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
