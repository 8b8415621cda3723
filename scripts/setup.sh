#!/usr/bin/env bash
# Installs what Morango Sync needs on Debian 12 and builds it.
# Safe to run again: apt-get skips what is there, meson reuses the build folder.
#   BUILD_DIR     build folder (default: build)
#   MESON_ARGS    extra arguments for a new build folder
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

packages=(
  build-essential meson ninja-build pkg-config gettext
  libglib2.0-dev libgtk-4-dev libadwaita-1-dev libsoup-3.0-dev libjson-glib-dev
  libsqlite3-dev libgnutls28-dev glib-networking
  appstream desktop-file-utils xvfb xauth dbus-daemon dbus-x11
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build="${BUILD_DIR:-build}"
if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson setup "$build" ${MESON_ARGS:-}
fi
meson compile -C "$build"
