# Sourced by scripts/install-exim.sh and scripts/install-sendmail.sh: install a Debian package
# that conflicts with the installed Postfix (each MTA provides mail-transport-agent) into a
# private prefix. Its .deb is fetched with `apt-get download` and unpacked with `dpkg -x`
# (no maintainer scripts run, no /etc files, no service, nothing of Postfix touched); only its
# shared libraries (every missing `lib*` Depends) are installed normally, with apt-get.
#
#   unpack_deb TAG PKG PREFIX BINARY
# TAG prefixes the messages; BINARY (inside PREFIX) must find all its libraries afterwards.

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
# Wait for another apt/dpkg (up to 10 minutes) rather than fail on its lock.
APT=(apt-get -o DPkg::Lock::Timeout=600 -qq)

unpack_deb() {
  local tag="$1" pkg="$2" prefix="$3" binary="$4"
  # Its libraries, installed normally (they conflict with nothing).
  local libs=() dep
  while read -r dep; do
    dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || libs+=("$dep")
  done < <(apt-cache depends "$pkg" | sed -n 's/^ *|\{0,1\}Depends: \(lib[^ <>]*\)$/\1/p' | sort -u)
  if [ "${#libs[@]}" -gt 0 ]; then
    echo "$tag: installing libraries ${libs[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${libs[@]}" ||
      { $SUDO "${APT[@]}" update && $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${libs[@]}"; }
  fi

  # The .deb, unpacked (not installed) into the prefix.
  local work
  work="$(mktemp -d)"
  # Downloaded as the caller (apt's _apt sandbox user cannot write into a private temp folder).
  local dl=(apt-get -qq -o APT::Sandbox::User="$(id -un)" download "$pkg")
  if ! ( cd "$work" && { "${dl[@]}" || { $SUDO "${APT[@]}" update && "${dl[@]}"; }; } ); then
    rm -rf "$work"
    echo "$tag: could not download $pkg" >&2
    return 1
  fi
  $SUDO mkdir -p "$prefix"
  $SUDO dpkg -x "$work"/"$pkg"_*.deb "$prefix"
  rm -rf "$work"

  local missing
  missing="$(ldd "$binary" | grep 'not found' || true)"
  if [ -n "$missing" ]; then
    echo "$tag: $binary still misses libraries:" >&2
    echo "$missing" >&2
    return 1
  fi
}
