# Shared by scripts/run.sh and scripts/test.sh: installs what strato needs on Debian
# and finds a Go toolchain. Sourced, not run.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'FATAL: %s\n' "$*" >&2; exit 1; }

# apt_install installs the Debian packages that are missing (root only).
apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); run as root or install them"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# need_go puts a Go toolchain of at least 1.21 on PATH. Go 1.21+ fetches the exact
# version go.mod asks for through the module proxy by itself (GOTOOLCHAIN=auto).
need_go() {
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH="/usr/local/go/bin:$PATH"
		else
			apt_install golang-go ca-certificates git
		fi
	fi
	command -v go >/dev/null 2>&1 || die "no Go toolchain"
	local minor
	minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
	[ "${minor:-0}" -ge 21 ] || die "Go $(go env GOVERSION) is too old to fetch the toolchain go.mod names; install Go 1.21 or newer (Debian: bookworm-backports golang-1.22)"
	export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
}
