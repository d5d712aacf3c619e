# Sourced by scripts/pg.sh, redis.sh and chromium.sh: apt_install <script> <package>...
# installs Debian packages as root, or through sudo when we are not root; returns 1 (after
# saying why on stderr) when neither is possible or apt-get fails.
apt_install() {
  local who=$1; shift
  local SUDO=""
  if [[ "$(id -u)" != "0" ]]; then
    if ! command -v sudo >/dev/null; then
      echo "$who: '$*' is not installed and we are not root; install it first" >&2
      return 1
    fi
    SUDO="sudo"
  fi
  echo "$who: installing Debian's $* (apt-get) ..." >&2
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"; } >&2
}
