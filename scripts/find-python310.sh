#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 runs on 3.8-3.10 only), or explain what to install.
# Looks at $PYTHON310, python3.10 on PATH (skipping pyenv shims that refuse to run), then pyenv's versions.
set -u
works() { [ -n "$1" ] && "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }
for candidate in "${PYTHON310:-}" "$(command -v python3.10 2>/dev/null)"; do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  for candidate in $(ls -d "$(pyenv root)"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r); do
    if works "$candidate"; then echo "$candidate"; exit 0; fi
  done
fi
for candidate in /usr/bin/python3.10 /usr/local/bin/python3.10 /opt/python3.10/bin/python3.10; do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done
cat >&2 <<'MSG'
Amaan needs Python 3.10 (Rasa Open Source 3.6 does not run on 3.11 or later), and none was found.
Install one of:
  - pyenv:   pyenv install 3.10.13
  - Debian/Ubuntu (deadsnakes or a release that ships it): apt-get install python3.10 python3.10-venv
  - or point PYTHON310 at an existing interpreter: make run PYTHON310=/path/to/python3.10
MSG
exit 1
