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
# PyJWT, an independent JWT implementation for interop tests, as Debian packages it.
/usr/bin/python3 -c 'import jwt' >/dev/null 2>&1 || missing+=(python3-jwt)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test tools: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo test --locked
