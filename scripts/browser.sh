#!/usr/bin/env bash
# scripts/browser.sh — install the headless Chromium that the widget's
# browser tests drive (widget/browser_test.go), from Debian's packages.
# Idempotent: with chromium and chromium-driver installed it does nothing.
#
# Usage:
#   scripts/browser.sh         install what is missing, print the browser's path
#
# apt-get update runs only when the package lists do not know the packages
# yet (a fresh machine), so a second run needs no network.
set -euo pipefail

PKGS=(chromium chromium-driver)
BROWSER=/usr/bin/chromium

log() { printf 'browser: %s\n' "$*" >&2; }
die() {
	printf 'browser: error: %s\n' "$*" >&2
	exit 1
}

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# A package apt can install has a candidate version in the package lists.
apt_knows() {
	local cand
	cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	[ -n "$cand" ] && [ "$cand" != "(none)" ]
}

missing=()
for p in "${PKGS[@]}"; do
	pkg_installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "installing ${missing[*]} needs root (run as root, or apt-get install ${missing[*]} by hand)"
	export DEBIAN_FRONTEND=noninteractive
	for p in "${missing[@]}"; do
		if ! apt_knows "$p"; then
			log "apt-get update (the package lists do not know $p)"
			apt-get update -qq -o DPkg::Lock::Timeout=300 </dev/null || die "apt-get update failed"
			break
		fi
	done
	log "installing ${missing[*]}"
	apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" </dev/null >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi
[ -x "$BROWSER" ] || die "$BROWSER is missing after installing ${PKGS[*]}"
echo "$BROWSER"
