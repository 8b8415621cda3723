#!/usr/bin/env python3
"""Fails when a source file with translatable strings is missing from
every POTFILES.in of the project, or when a POTFILES.in lists a file that
does not exist.

Every po directory is read (po/POTFILES.in, and engine/po/POTFILES.in or
any other one a later change adds), so that the strings of each gettext
domain are checked the same way.  Paths in POTFILES.in are relative to
the source root, as meson's i18n module reads them.

    check-potfiles.py SOURCE_ROOT
"""
import os
import re
import sys

SCANNED_DIRS = ("app", "ui", "engine", "data")
SUFFIXES = (".c", ".h", ".ui", ".in")
# _("…"), N_("…"), C_("ctx", "…"), NC_(…), Q_(…), g_dngettext-free
# ngettext(…), and the builder attribute.  The lookbehind keeps
# identifiers that merely end in an underscore (foo_(…)) out.
MARKERS = re.compile(
    r'(?<![A-Za-z0-9_])(?:_|N_|C_|NC_|Q_|ngettext)\s*\(|translatable="yes"')
SKIPPED_DIRS = {".git", "build", "subprojects"}


def potfiles_lists(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames
                       if d not in SKIPPED_DIRS and not d.startswith("build")]
        if "POTFILES.in" in filenames:
            yield os.path.join(dirpath, "POTFILES.in")


def read_list(path):
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                entries.append(line)
    return entries


def translatable_files(root):
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
            for name in sorted(filenames):
                if not name.endswith(SUFFIXES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if MARKERS.search(text):
                    yield rel


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    lists = list(potfiles_lists(root))
    if not lists:
        print("no POTFILES.in found under", root)
        return 1

    listed = {}
    status = 0
    for potfiles in lists:
        for entry in read_list(potfiles):
            listed[entry] = potfiles
            if not os.path.isfile(os.path.join(root, entry)):
                print(f"{os.path.relpath(potfiles, root)}: lists {entry}, which does not exist")
                status = 1

    for rel in translatable_files(root):
        if rel in listed:
            print(f"ok: {rel}")
        else:
            print(f"{rel} has translatable strings but no POTFILES.in lists it")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
