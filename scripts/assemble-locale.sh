#!/bin/sh
# Gathers the compiled catalogues of both domains into one locale folder
# (LOCALEDIR/<lang>/LC_MESSAGES/<domain>.mo), the layout bindtextdomain
# reads, so that an uninstalled run with MORANGO_LOCALEDIR pointing there
# is translated.  meson builds each domain's .mo files under its own po
# folder, <lang>/LC_MESSAGES/<domain>.mo, and the language is read from
# that path.
#
#   assemble-locale.sh LOCALEDIR STAMP MO...
set -eu
dest=$1 stamp=$2
shift 2
for mo in "$@"; do
  lang=$(basename "$(dirname "$(dirname "$mo")")")
  mkdir -p "$dest/$lang/LC_MESSAGES"
  cp "$mo" "$dest/$lang/LC_MESSAGES/$(basename "$mo")"
done
: > "$stamp"
