#!/usr/bin/env bash
# Install Debian's Chromium for the chat UI's browser test, when /usr/bin/chromium is missing.
# Playwright drives this binary through its executable_path, so no browser build is
# downloaded from anywhere else (`playwright install` is never run).
# As root, a failed apt-get fails this script. Without root it only warns, because the
# test then skips itself with the reason.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "warning: $CHROMIUM is missing and installing it needs root, so the chat UI browser test will be skipped;" \
         "install it with: sudo apt-get install -y chromium" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
