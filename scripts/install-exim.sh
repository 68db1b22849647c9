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
. "$(dirname "$0")/lib/unpack-deb.sh"

works() { [ -x "$EXIM" ] && "$EXIM" -C /dev/null -bV >/dev/null 2>&1 && getent passwd Debian-exim >/dev/null; }
if works; then
  echo "install-exim: $("$EXIM" -C /dev/null -bV 2>/dev/null | head -1) already in $PREFIX"
  exit 0
fi

unpack_deb install-exim "$PKG" "$PREFIX" "$EXIM"

# Exim's compiled-in user and group (Debian's build: Debian-exim).
if ! getent passwd Debian-exim >/dev/null; then
  $SUDO adduser --system --group --quiet --allow-bad-names --no-create-home --home /var/spool/exim4 --disabled-login Debian-exim
fi

works || { echo "install-exim: $EXIM -bV fails:" >&2; "$EXIM" -C /dev/null -bV >&2 || true; exit 1; }
echo "install-exim: $("$EXIM" -C /dev/null -bV 2>/dev/null | head -1) in $PREFIX"
