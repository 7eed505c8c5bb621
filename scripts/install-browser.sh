#!/usr/bin/env bash
# Installs Debian's headless Chromium and ChromeDriver for the browser tests, where the platform allows.
# Never downloads a browser of a test tool's own (`playwright install`): those downloads fail offline.
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "installing chromium and chromium-driver (Debian packages) for the browser tests"
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
      && exit 0
  fi
fi
echo "warning: no chromium found and none could be installed; browser tests will be skipped" >&2
exit 0
