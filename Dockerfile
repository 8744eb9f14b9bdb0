# syntax=docker/dockerfile:1
#
# The gateway as a container image. Build from the repository root:
#
#     docker build -t gateway .
#
# The image holds the binary and nothing else: the config, users file, certificates and
# JWT secret are mounted at run time (see examples/docker-compose/). It runs as the
# unprivileged user 65532 and reads /etc/gateway/gateway.toml unless told otherwise.

# --- Stage 1: build ----------------------------------------------------------------------
# Debian 12 (bookworm), the same glibc as the runtime image below. aws-lc is compiled into
# the binary by its own build script (the image already has the C compiler it needs).
FROM rust:1-slim-bookworm AS build
WORKDIR /build

# Dependencies first, in their own layer: build them against a placeholder main.rs, so this
# slow layer is reused until Cargo.toml or Cargo.lock change. Cargo reads every target the
# manifest declares, so the [[bench]] gets a placeholder too (it is not built). --locked:
# exactly the versions in Cargo.lock, or fail.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > benches/hot_path.rs \
    && cargo build --release --locked \
    && rm -rf src benches

# Then the gateway itself. `touch` makes cargo rebuild main.rs even if the copied file is
# older than the placeholder it replaces.
COPY src ./src
COPY benches ./benches
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked

# --- Stage 2: runtime --------------------------------------------------------------------
# Distroless: glibc, libgcc, CA certificates and tzdata; no shell, no package manager. The
# :nonroot variant's default user is nonroot (65532).
FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=build /build/target/release/gateway /usr/local/bin/gateway

# Unprivileged: the listeners use ports above 1024. Mounted key and secret files must be
# readable by uid 65532.
USER nonroot:nonroot

# `gateway run`, `check`, `token` and `healthcheck` read this file when --config is not
# given. Relative paths in it (certs/…, users.toml) resolve from its folder.
ENV GATEWAY_CONFIG=/etc/gateway/gateway.toml
WORKDIR /etc/gateway

# HTTPS, the plain-HTTP redirect, and the admin listener (/healthz, /readyz, /metrics): the
# addresses of [server] listen, redirect_http and admin_listen in gateway.toml.
EXPOSE 8443 8080 9090

# The image has no curl: the binary asks the admin listener's /healthz itself. Needs
# [server] admin_listen in the config.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/gateway", "healthcheck"]

# SIGTERM (docker stop) drains in-flight requests for [server] shutdown_grace; SIGHUP
# (docker kill -s HUP) reloads the config, users and certificates.
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["run"]
