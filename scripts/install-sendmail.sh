#!/usr/bin/env bash
# Install Debian's Sendmail (sendmail-bin) into a private prefix, next to the Postfix the lab needs.
#
# Debian's MTAs conflict as packages (postfix and sendmail-bin both provide mail-transport-agent),
# so Sendmail is not installed with apt-get: its .deb is fetched with `apt-get download` and
# unpacked with `dpkg -x` into PREFIX (no maintainer scripts run, no /etc/mail, no service, no
# /usr/sbin/sendmail of its own: that one stays Postfix's). Only its shared libraries are
# installed normally (every `lib*` Depends of sendmail-bin that is missing). Its sendmail.cf is
# made by src/lab/sendmail.ts with m4 from sendmail-cf (installed by .ci/run's apt list).
# The daemon binary is PREFIX/usr/libexec/sendmail/sendmail (the Debian package links /usr/sbin/sendmail-mta to it).
#
# Usage: scripts/install-sendmail.sh [PREFIX]   (default: $AVBENCH_SENDMAIL_PREFIX or /opt/avbench/sendmail)
# Idempotent: does nothing when PREFIX/usr/libexec/sendmail/sendmail runs (`sendmail -d0.1 -bt`).
set -euo pipefail

PREFIX="${1:-${AVBENCH_SENDMAIL_PREFIX:-/opt/avbench/sendmail}}"
PKG=sendmail-bin
SENDMAIL="$PREFIX/usr/libexec/sendmail/sendmail"
. "$(dirname "$0")/lib/unpack-deb.sh"

# Sendmail wants a qualified name for its host before it reads a config, and sleeps 60 s when
# the machine's has no dot: it is asked in a private UTS namespace whose host name is 127.0.0.1
# (as src/lab/sendmail.ts runs it).
probe() { unshare --uts bash -c 'hostname 127.0.0.1 && exec "$0" -C /dev/null -d0.1 -bt' "$SENDMAIL" </dev/null 2>/dev/null; }
version() { probe | sed -n 's/^Version \(.*\)$/\1/p' | head -1; }
works() { [ -x "$SENDMAIL" ] && [ -n "$(version)" ]; }
if works; then
  echo "install-sendmail: Sendmail $(version) already in $PREFIX"
  exit 0
fi

unpack_deb install-sendmail "$PKG" "$PREFIX" "$SENDMAIL"

works || { echo "install-sendmail: $SENDMAIL -d0.1 -bt fails:" >&2; probe >&2 || true; exit 1; }
echo "install-sendmail: Sendmail $(version) in $PREFIX"
