#!/usr/bin/env bash
# Sets everything up, then opens the desktop app (or explains the headless
# peer when there is no display).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/setup.sh"
build="${BUILD_DIR:-build}"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo
  echo "There is no display here, so the desktop app cannot open."
  echo "The headless peer is built and ready:"
  echo "  $here/$build/app/morango --help"
  exit 0
fi
# Uninstalled, the app finds its settings schema in the build folder.
export GSETTINGS_SCHEMA_DIR="$here/$build/data${GSETTINGS_SCHEMA_DIR:+:$GSETTINGS_SCHEMA_DIR}"
exec "$here/$build/app/morango-sync" "$@"
