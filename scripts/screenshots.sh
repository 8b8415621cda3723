#!/usr/bin/env bash
# Takes the pictures in data/screenshots/: each page of the window with
# real data, wide (1000x700) and on a phone (360x720), under Xvfb.
#
# The data is made the way a person makes it, with the `morango` command:
# a school server that owns a dataset and holds a few records, serving on
# 127.0.0.1; this device pairs with it and syncs.  Then the app's window
# is opened on this device's folder and each page is saved.
#   --lang LANG  a translated run (e.g. pt_BR), from the build tree's
#                catalogues (build/locale); pictures go to
#                data/screenshots/LANG/
#   BUILD_DIR   build folder (default: build)
#   OUT_DIR     where the pictures go (default: data/screenshots)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="$here/${BUILD_DIR:-build}"
lang=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lang) lang="${2:?--lang needs a language, e.g. pt_BR}"; shift 2 ;;
    --lang=*) lang="${1#--lang=}"; shift ;;
    *) echo "usage: screenshots.sh [--lang LANG]" >&2; exit 2 ;;
  esac
done
out="${OUT_DIR:-$here/data/screenshots${lang:+/$lang}}"
morango="$build/app/morango"
shooter="$build/tests/screenshot-window"
meson compile -C "$build" >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/morango-screenshots.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export MORANGO_PROFILES_DIR="$here/data/profiles"
server="$work/school-server" device="$work/device"
printf 'correct horse battery staple\n' > "$work/password"

# The command's progress goes to a log, shown when a step fails.
quiet() {
  "$@" 2>"$work/step.log" || { cat "$work/step.log" >&2; return 1; }
}

root="$("$morango" --data-dir "$server" cert create-root --scope full-facility)"
printf '{"model":"facility","fields":{"dataset_id":"%s","name":"Escola Sul"}}\n' "$root" > "$work/facility.jsonl"
"$morango" --data-dir "$server" data import "$work/facility.jsonl" >/dev/null
facility="$("$morango" --data-dir "$server" data export | sed -n 's/^{"model":"facility","fields":{.*"id":"\([0-9a-f]*\)".*/\1/p')"
for name in "Ana Souza" "Bruno Lima" "Carla Dias" "Davi Rocha" "Elisa Reis"; do
  user="$(printf '%s' "$name" | tr 'A-Z ' 'a-z.')"
  printf '{"model":"facilityuser","fields":{"dataset_id":"%s","facility":"%s","username":"%s","full_name":"%s","role":"learner"}}\n' \
    "$root" "$facility" "$user" "$name"
done > "$work/users.jsonl"
"$morango" --data-dir "$server" data import "$work/users.jsonl" >/dev/null

"$morango" --data-dir "$server" serve --address 127.0.0.1 --port 0 \
  --admin-password-file "$work/password" > "$work/serve.log" 2>&1 &
server_pid=$!
url=""
while [ -z "$url" ]; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  url="$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$work/serve.log" | head -n1)"
  [ -n "$url" ] || sleep 0.1
done

quiet "$morango" --data-dir "$device" pair "$url" --scope full-facility \
  --password-file "$work/password" --yes >/dev/null
quiet "$morango" --data-dir "$device" sync "$url" >/dev/null
# A second peer that is not there, so the list shows a failure too.
# Its failure reason is kept as written, in the language of the run that
# failed: a translated run writes it translated.
if [ -n "$lang" ]; then
  LANGUAGE="$lang" LC_ALL=C.UTF-8 MORANGO_LOCALEDIR="$build/locale" \
    "$morango" --data-dir "$device" sync http://127.0.0.1:9/ >/dev/null 2>&1 || true
else
  "$morango" --data-dir "$device" sync http://127.0.0.1:9/ >/dev/null 2>&1 || true
fi

mkdir -p "$out"
export GSETTINGS_SCHEMA_DIR="$build/data" GSETTINGS_BACKEND=memory
export GDK_BACKEND=x11 GSK_RENDERER=cairo GDK_DEBUG=gl-disable GTK_A11Y=none
export LANG="${SCREENSHOT_LANG:-C.UTF-8}"
if [ -n "$lang" ]; then
  # LANGUAGE picks the catalogue; glibc honours it in C.UTF-8, so no
  # system locale for LANG is needed.  GTK's and libadwaita's own strings
  # come from the system's catalogues, not from build/locale.
  [ -f "$build/locale/$lang/LC_MESSAGES/morango-sync.mo" ] ||
    { echo "screenshots.sh: no catalogue for $lang in $build/locale" >&2; exit 1; }
  export LANGUAGE="$lang" LC_ALL=C.UTF-8 MORANGO_LOCALEDIR="$build/locale"
fi
shots() {
  xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- "$shooter" "$device" "$@"
}
shots 1000 700 "$out"
shots 360 720 "$out" peers=narrow
ls -l "$out"
