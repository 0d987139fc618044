# shellcheck shell=bash
# Sourced by scripts/*: finds or builds the project's Python environment and runs commands in it.
#
# Home Assistant 2026.10 needs Python >= 3.14.2. Where such an interpreter is on PATH, a venv is
# made from it directly. Otherwise (Debian 12 ships 3.11) a Debian sid root with Python 3.14 is
# built with debootstrap and commands run in it through chroot, in a private mount namespace so
# nothing stays mounted afterwards. Both live in a cache outside the checkout, keyed by the hash
# of what defines them, so a fresh clone on the same machine (CI) reuses them.
#
# HA_RELEASE picks the Home Assistant release of the *real* HA that devtools/ha_instance.py starts
# (scripts/develop, tests/e2e); pytest, the simulator and the browser always run in the main venv:
#   unset or "pinned"  the release pytest-homeassistant-custom-component pins (requirements_test.txt)
#   "newest"           the newest release on PyPI, looked up at most every HA_NEWEST_TTL seconds
#   "2026.11.0"        that release
# Any other than the pinned one gets a second venv, keyed by the release it resolved to, with
# `homeassistant==<release>` and the packages of requirements_ha.txt pinned to *that* release's
# integration manifests (HA never pip-installs at start-up: it runs offline). Its Python is
# handed to ha_instance.py as HA_PYTHON.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${OPENAI_API_HA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openai-api-ha}
MIN_PY=(3 14 2)
# Debian packages of the sid root: Python with headers and a compiler (pymicro-vad and
# pyspeex-noise build from source). debootstrap cannot resolve Chromium's alternatives
# (dbus-session-bus), so the browser and fonts are added by apt inside the root afterwards, with
# what HA's own container image has and the dev instance loads: ffmpeg (the `ffmpeg`
# integration, a dependency of tts and so of assist_satellite) and libturbojpeg (camera, which HA
# imports while describing actions). Without them HA logs tracebacks at every start.
ROOT_PACKAGES="python3.14,python3.14-venv,python3.14-dev,build-essential,ca-certificates,procps"
ROOT_APT_PACKAGES="chromium fonts-dejavu-core ffmpeg libturbojpeg0"
HA_NEWEST_TTL=${HA_NEWEST_TTL:-21600}

_hash() { cat "$@" | sha256sum | cut -c1-12; }
_log() { printf '[env] %s\n' "$*" >&2; }

_req_hash() { _hash "$REPO/requirements_test.txt" "$REPO/requirements_ha.txt" "$REPO/scripts/lib/env.sh"; }

_python_ok() {
  "$1" -c "import sys; sys.exit(0 if sys.version_info[:3] >= (${MIN_PY[0]}, ${MIN_PY[1]}, ${MIN_PY[2]}) else 1)" 2>/dev/null
}

_find_python() {
  local c
  for c in ${OPENAI_API_HA_PYTHON:-} python3.16 python3.15 python3.14 python3; do
    if command -v "$c" >/dev/null 2>&1 && _python_ok "$(command -v "$c")"; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

_mirror() {
  # The Debian mirror this machine's apt sources already name.
  local m
  m=$(grep -hoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

_pip_install() {
  # $1: python of the venv; pip runs with the repo as cwd so relative requirement paths work.
  "$1" -m pip install -q --disable-pip-version-check -r requirements_test.txt -r requirements_ha.txt
}

# --- direct mode: a usable Python on this machine -------------------------------------------
_direct_setup() {
  local py=$1 venv="$CACHE/venv-$(_req_hash)"
  if [ ! -f "$venv/.ok" ]; then
    _log "creating venv $venv with $py"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    (cd "$REPO" && _pip_install "$venv/bin/python")
    touch "$venv/.ok"
  fi
  ENV_MODE=direct
  ENV_VENV=$venv
}

# --- chroot mode: a Debian sid root with Python 3.14 -----------------------------------------
_root_dir() { echo "$CACHE/root-$(echo "$ROOT_PACKAGES $ROOT_APT_PACKAGES" | sha256sum | cut -c1-12)"; }

_chroot_build() {
  local root=$1 tmp
  command -v debootstrap >/dev/null || { _log "installing debootstrap"; apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  tmp="$root.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$CACHE"
  _log "building Debian sid root with Python 3.14 in $root (once, about a minute)"
  debootstrap --variant=minbase --include="$ROOT_PACKAGES" sid "$tmp" "$(_mirror)" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE/debootstrap.log" >&2; rm -rf "$tmp"; return 1; }
  _log "installing $ROOT_APT_PACKAGES in the root"
  # The mirror's sid Release file can be older than its Valid-Until date; apt would refuse it.
  ENV_VENV="" _in_root "$tmp" /bin/bash -c "apt-get -o Acquire::Check-Valid-Until=false update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $ROOT_APT_PACKAGES" \
    >>"$CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$CACHE/debootstrap.log" >&2; rm -rf "$tmp"; return 1; }
  touch "$tmp/.ok"
  mv "$tmp" "$root" 2>/dev/null || rm -rf "$tmp" # another run may have won the race
}

# Run "$@" inside the root, the repository bind-mounted at its own path so paths agree.
_in_root() {
  local root=$1
  shift
  cmp -s /etc/resolv.conf "$root/etc/resolv.conf" || cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mkdir -p "$root$REPO"
  local keep=(CI OPENAI_API_KEY OPENAI_BASE_URL TERM COLUMNS PYTEST_ADDOPTS HA_PORT BENCH_SCALE
    HA_CONFIG SIMULATOR_PORT HA_RELEASE HA_PYTHON UPDATE_SCREENSHOTS
    http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_EXTRA_INDEX_URL)
  local envs=(HOME=/root LANG=C.UTF-8 PATH="${ENV_VENV:+$ENV_VENV/bin:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  # The host may reach PyPI through a TLS-inspecting proxy whose CA only the host trusts:
  # hand the host's CA bundle to the root.
  local bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
  if [ -f "$bundle" ]; then
    # Copied only when it changed, and by rename, so a concurrent run never reads half a file.
    if ! cmp -s "$bundle" "$root/etc/ssl/host-ca.crt"; then
      cp -L "$bundle" "$root/etc/ssl/host-ca.crt.$$" 2>/dev/null &&
        mv -f "$root/etc/ssl/host-ca.crt.$$" "$root/etc/ssl/host-ca.crt" || true
    fi
    envs+=(SSL_CERT_FILE=/etc/ssl/host-ca.crt PIP_CERT=/etc/ssl/host-ca.crt REQUESTS_CA_BUNDLE=/etc/ssl/host-ca.crt)
  fi
  local k
  for k in "${keep[@]}"; do [ -n "${!k:-}" ] && envs+=("$k=${!k}"); done
  unshare --mount --propagation private -- /bin/bash -c '
    set -e
    root=$1 repo=$2; shift 2
    mount --bind /proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
    mount --bind "$repo" "$root$repo"
    exec chroot "$root" /usr/bin/env -i "$@"
  ' _ "$root" "$REPO" "${envs[@]}" /bin/bash -c 'cd "$0" && exec "$@"' "$REPO" "$@"
}

_chroot_setup() {
  local root venv
  root=$(_root_dir)
  [ -f "$root/.ok" ] || _chroot_build "$root"
  venv="/opt/venv-$(_req_hash)"
  if [ ! -f "$root$venv/.ok" ]; then
    _log "creating venv $venv inside the root"
    rm -rf "${root:?}$venv"
    ENV_VENV="" _in_root "$root" /bin/bash -c "python3.14 -m venv $venv && cd $REPO && $venv/bin/python -m pip install -q --disable-pip-version-check -r requirements_test.txt -r requirements_ha.txt && touch $venv/.ok"
  fi
  ENV_MODE=chroot
  ENV_ROOT=$root
  ENV_VENV=$venv
}

# --- a second Home Assistant release (HA_RELEASE) ------------------------------------------------
# Writes `name==version` pins for the packages of requirements_ha.txt as the manifests of the
# installed homeassistant pin them; a package no manifest of that release needs any more is left
# out. Run by the second venv's Python: argv[1] requirements_ha.txt, argv[2] the output file.
read -r -d '' _PINS_PY <<'EOF' || true
import json, pathlib, re, sys
import homeassistant.components as components
from homeassistant.const import __version__
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
wanted = {}
for line in pathlib.Path(sys.argv[1]).read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if line:
        wanted[norm(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0])] = None
for manifest in pathlib.Path(components.__path__[0]).glob("*/manifest.json"):
    for req in json.loads(manifest.read_text()).get("requirements", []):
        name = norm(req.split("==", 1)[0])
        if name in wanted and "==" in req:
            wanted[name] = req
out = [f"# requirements_ha.txt pinned to the manifests of homeassistant {__version__}"]
for name, req in wanted.items():
    out.append(req if req else f"# {name}: no integration of {__version__} requires it")
pathlib.Path(sys.argv[2]).write_text("\n".join(out) + "\n")
EOF

# $1 python, $2 venv, $3 release, $4 the script above; run inside the environment (cwd: repo).
# shellcheck disable=SC2016
_HA_VENV_SH='set -e
py=$1 venv=$2 release=$3
pip() { "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"; }
rm -rf "$venv"
"$py" -m venv "$venv"
pip "homeassistant==$release"
"$venv/bin/python" -c "$4" requirements_ha.txt "$venv/requirements-integrations.txt"
constraints=$("$venv/bin/python" -c "import homeassistant, os; print(os.path.join(os.path.dirname(homeassistant.__file__), \"package_constraints.txt\"))")
pip -r "$venv/requirements-integrations.txt" -c "$constraints"
touch "$venv/.ok"'

# The newest release on PyPI, asked at most every HA_NEWEST_TTL seconds (the answer is cached);
# when PyPI cannot be asked, the last answer is used.
_ha_newest() {
  local cache="$CACHE/ha-newest-release" version=""
  if [ -s "$cache" ] && [ $(($(date +%s) - $(stat -c %Y "$cache"))) -lt "$HA_NEWEST_TTL" ]; then
    cat "$cache"
    return 0
  fi
  version=$(env_run python -m pip index versions --disable-pip-version-check homeassistant 2>/dev/null \
    | sed -n 's/^homeassistant (\([^)]*\))$/\1/p' | head -n1) || true
  if [ -n "$version" ]; then
    echo "$version" >"$cache.$$" && mv -f "$cache.$$" "$cache"
  elif [ -s "$cache" ]; then
    _log "could not ask PyPI for the newest homeassistant; using the last answer"
  else
    _log "could not ask PyPI for the newest homeassistant"
    return 1
  fi
  cat "$cache"
}

_ha_release_setup() {
  local release=${HA_RELEASE:-pinned} pinned venv py key marker
  unset HA_PYTHON
  case $release in
    pinned) return 0 ;; # the default path: nothing to resolve, nothing to start
    newest) release=$(_ha_newest) ;;
  esac
  [[ $release =~ ^[0-9]{4}\.[0-9]+\.[0-9]+((a|b|rc|\.dev)[0-9]+)?$ ]] \
    || { _log "HA_RELEASE must be pinned, newest or a release such as 2026.11.0, not '$release'"; return 1; }
  pinned=$(env_run python -c "from homeassistant.const import __version__; print(__version__)")
  if [ "$release" = "$pinned" ]; then
    _log "Home Assistant $release is the pinned release: using the main venv"
    return 0
  fi
  key=$(_hash "$REPO/requirements_ha.txt" "$REPO/scripts/lib/env.sh")
  if [ "$ENV_MODE" = direct ]; then
    venv="$CACHE/venv-ha-$release-$key" py=$ENV_PYTHON
  else
    venv="/opt/venv-ha-$release-$key" py=python3.14
  fi
  marker=$venv
  [ "$ENV_MODE" = direct ] || marker="$ENV_ROOT$venv"
  if [ ! -f "$marker/.ok" ]; then
    mkdir -p "$CACHE"
    (
      flock 9
      if [ ! -f "$marker/.ok" ]; then
        _log "creating venv $venv with homeassistant==$release (once)"
        ENV_VENV="" env_run /bin/bash -c "$_HA_VENV_SH" _ "$py" "$venv" "$release" "$_PINS_PY"
      fi
    ) 9>"$CACHE/.lock-venv-ha-$release-$key"
  fi
  export HA_PYTHON="$venv/bin/python"
}

env_setup() {
  local py
  if py=$(_find_python); then
    ENV_PYTHON=$py
    _direct_setup "$py"
  else
    [ "$(id -u)" = 0 ] || { _log "no Python >= 3.14.2 found, and building one needs root (debootstrap, chroot)"; return 1; }
    _chroot_setup
  fi
  _ha_release_setup
}

# env_run CMD...: run CMD in the project's environment with the repository root as cwd.
env_run() {
  if [ "$ENV_MODE" = direct ]; then
    (cd "$REPO" && PATH="$ENV_VENV/bin:$PATH" VIRTUAL_ENV="$ENV_VENV" exec "$@")
  else
    _in_root "$ENV_ROOT" "$@"
  fi
}
