#!/bin/sh
# Fails when a catalogue is incomplete or behind its sources.
#
#   check-translations.sh SOURCE_ROOT
#
# For each language of each po directory: msgfmt --check passes and
# counts no fuzzy and no untranslated message, and msgcmp finds every
# msgid of a template freshly extracted from the sources translated
# (a string added or changed since the last msgmerge fails here, not
# in front of a user).  The extraction uses the keywords and flags of
# meson's glib preset plus what each po/meson.build adds: keep them in
# step.
set -eu

root=$(cd "${1:?usage: check-translations.sh SOURCE_ROOT}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# meson's i18n glib preset (mesonbuild/modules/i18n.py).
GLIB_PRESET="--from-code=UTF-8 --add-comments
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format
  --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format
  --flag=g_print:1:c-format --flag=g_printerr:1:c-format
  --flag=g_printf:1:c-format --flag=g_fprintf:2:c-format
  --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format"

failed=0
check_dir () {
  dir=$1 domain=$2
  shift 2
  pot="$tmp/$domain.pot"
  # shellcheck disable=SC2086
  if ! xgettext --package-name="$domain" --files-from="$root/$dir/POTFILES.in" \
         --directory="$root" -k_ $GLIB_PRESET "$@" -o "$pot" 2>"$tmp/xgettext.log"; then
    cat "$tmp/xgettext.log" >&2
    echo "not ok: xgettext failed for $dir" >&2
    failed=1
    return
  fi
  if grep -i 'warning' "$tmp/xgettext.log" >&2; then
    echo "not ok: xgettext warns about the sources of $dir" >&2
    failed=1
  fi
  for lang in $(sed -e 's/#.*//' "$root/$dir/LINGUAS"); do
    po="$root/$dir/$lang.po"
    if ! stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$po" 2>&1); then
      printf '%s\n' "$stats" >&2
      echo "not ok: $dir/$lang.po does not pass msgfmt --check" >&2
      failed=1
      continue
    fi
    if ! printf '%s\n' "$stats" | grep -Eq '^[0-9]+ translated messages?\.$'; then
      echo "not ok: $dir/$lang.po: $stats (fuzzy or untranslated left)" >&2
      failed=1
    fi
    if ! LC_ALL=C msgcmp "$po" "$pot" 2>"$tmp/msgcmp.log"; then
      head -n 40 "$tmp/msgcmp.log" >&2
      echo "not ok: $dir/$lang.po is behind the sources (run the -update-po target and translate)" >&2
      failed=1
    else
      echo "ok: $dir/$lang.po: $stats"
    fi
  done
}

check_dir po morango-sync
# engine/po/meson.build's args.
check_dir engine/po libmorango --keyword=morango_ngettext:1,2 \
  --flag=morango_ngettext:1:c-format --flag=morango_ngettext:2:c-format

exit $failed
