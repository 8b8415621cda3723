#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR and checks that a desktop
# finds the app there: its launcher, the icon that launcher names, the
# metainfo, the settings schema and both programs.
#   check-install.sh BUILD_DIR PREFIX BINDIR DATADIR
set -euo pipefail
build="$1" prefix="$2" bindir="$3" datadir="$4"
case "$bindir" in /*) ;; *) bindir="$prefix/$bindir" ;; esac
case "$datadir" in /*) ;; *) datadir="$prefix/$datadir" ;; esac

dest="$(mktemp -d "${TMPDIR:-/tmp}/morango-install.XXXXXX")"
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null

status=0
need() {
  if [ ! -e "$dest$1" ]; then
    echo "not installed: $1"
    status=1
  else
    echo "installed: $1"
  fi
}
desktop="$datadir/applications/org.morango.Sync.desktop"
need "$desktop"
need "$datadir/metainfo/org.morango.Sync.metainfo.xml"
need "$datadir/glib-2.0/schemas/org.morango.Sync.gschema.xml"
need "$datadir/icons/hicolor/scalable/apps/org.morango.Sync.svg"
need "$datadir/icons/hicolor/symbolic/apps/org.morango.Sync-symbolic.svg"
need "$bindir/morango"
need "$bindir/morango-sync"

# What the launcher names must be what was installed.
if [ -e "$dest$desktop" ]; then
  icon="$(sed -n 's/^Icon=//p' "$dest$desktop")"
  exec="$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$dest$desktop")"
  need "$datadir/icons/hicolor/scalable/apps/$icon.svg"
  need "$bindir/$exec"
fi
for prog in morango morango-sync; do
  if [ -e "$dest$bindir/$prog" ] && [ ! -x "$dest$bindir/$prog" ]; then
    echo "not executable: $bindir/$prog"
    status=1
  fi
done
exit "$status"
