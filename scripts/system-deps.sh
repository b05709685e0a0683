#!/usr/bin/env bash
# The system packages `make test` needs beyond Python: Debian's chromium (the browser tests drive it with
# Playwright; never `playwright install`) and postgresql (the store suite runs on a private server it starts).
# Installs only what is missing; prints nothing when all is there.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "system-deps: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "system-deps: installing ${need[*]} (Debian packages)" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
