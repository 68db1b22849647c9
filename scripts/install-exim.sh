#!/usr/bin/env bash
# Install Debian's Exim (exim4-daemon-heavy: the build with the content-scanning
# `malware` ACL condition) into a private prefix, next to the Postfix the lab needs.
#
# Debian's MTAs conflict as packages (postfix and exim4 both provide mail-transport-agent),
# so Exim is not installed with apt-get: its .deb is fetched with `apt-get download` and
# unpacked with `dpkg -x` into PREFIX (no maintainer scripts run, no /etc/exim4, no service,
# nothing of Postfix touched). Only its shared libraries are installed normally (every
# `lib*` Depends of exim4-daemon-heavy that is missing). The compiled-in Exim user
# (Debian-exim) is created as a system user when missing. src/lab/exim.ts runs
# PREFIX/usr/sbin/exim4 with a generated config (-C) on loopback.
#
# Usage: scripts/install-exim.sh [PREFIX]   (default: $AVBENCH_EXIM_PREFIX or /opt/avbench/exim)
# Idempotent: does nothing when PREFIX/usr/sbin/exim4 runs (`exim4 -bV`) and the user exists.
set -euo pipefail

PREFIX="${1:-${AVBENCH_EXIM_PREFIX:-/opt/avbench/exim}}"
PKG=exim4-daemon-heavy
EXIM="$PREFIX/usr/sbin/exim4"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
# Wait for another apt/dpkg (up to 10 minutes) rather than fail on its lock.
APT=(apt-get -o DPkg::Lock::Timeout=600 -qq)

works() { [ -x "$EXIM" ] && "$EXIM" -C /dev/null -bV >/dev/null 2>&1 && getent passwd Debian-exim >/dev/null; }
if works; then
  echo "install-exim: $("$EXIM" -C /dev/null -bV 2>/dev/null | head -1) already in $PREFIX"
  exit 0
fi

# Its libraries, installed normally (they conflict with nothing).
libs=()
while read -r dep; do
  dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || libs+=("$dep")
done < <(apt-cache depends "$PKG" | sed -n 's/^ *|\{0,1\}Depends: \(lib[^ <>]*\)$/\1/p' | sort -u)
if [ "${#libs[@]}" -gt 0 ]; then
  echo "install-exim: installing libraries ${libs[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${libs[@]}" ||
    { $SUDO "${APT[@]}" update && $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${libs[@]}"; }
fi

# The .deb, unpacked (not installed) into PREFIX.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Downloaded as the caller (apt's _apt sandbox user cannot write into a private temp folder).
DL=(apt-get -qq -o APT::Sandbox::User="$(id -un)" download "$PKG")
( cd "$work" && { "${DL[@]}" || { $SUDO "${APT[@]}" update && "${DL[@]}"; }; } )
$SUDO mkdir -p "$PREFIX"
$SUDO dpkg -x "$work"/"$PKG"_*.deb "$PREFIX"

missing="$(ldd "$EXIM" | grep 'not found' || true)"
if [ -n "$missing" ]; then
  echo "install-exim: $EXIM still misses libraries:" >&2
  echo "$missing" >&2
  exit 1
fi

# Exim's compiled-in user and group (Debian's build: Debian-exim).
if ! getent passwd Debian-exim >/dev/null; then
  $SUDO adduser --system --group --quiet --allow-bad-names --no-create-home --home /var/spool/exim4 --disabled-login Debian-exim
fi

works || { echo "install-exim: $EXIM -bV fails:" >&2; "$EXIM" -C /dev/null -bV >&2 || true; exit 1; }
echo "install-exim: $("$EXIM" -C /dev/null -bV 2>/dev/null | head -1) in $PREFIX"
