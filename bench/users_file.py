#!/usr/bin/env python3
"""How long `gateway check` and a SIGHUP reload take with a large users file.

    bench/users_file.py                          # 100,000 users, target/release/gateway
    bench/users_file.py --users 20000 --gateway path/to/gateway --baseline old/gateway

Builds nothing: run `cargo build --release` first. Writes a users file of N users (one real
argon2id hash from `gateway hash-password`, reused: loading parses hashes, it never runs
them), times `gateway check` on it, then starts `gateway run` and times a SIGHUP reload
from the signal to the "configuration reloaded" log line. With --baseline, the same for a
second binary (e.g. a build of an older commit), printed side by side. Everything listens
on 127.0.0.1 on free ports and is stopped on exit.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import freeports, port_accepts  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_files(folder, gateway, users):
    hashed = subprocess.run(
        [gateway, "hash-password"], input=b"a password nobody uses\n",
        capture_output=True, check=True,
    ).stdout.decode().strip()
    with open(os.path.join(folder, "users.toml"), "w") as out:
        for n in range(users):
            out.write(
                f'[[user]]\nname = "user{n:06}"\npassword = "{hashed}"\n'
                f'groups = ["staff"]\nemail = "user{n:06}@example.test"\n\n'
            )
    os.chmod(os.path.join(folder, "users.toml"), 0o600)
    https, admin = freeports(2)
    with open(os.path.join(folder, "gateway.toml"), "w") as out:
        out.write(
            f'[server]\nlisten = "127.0.0.1:{https}"\nadmin_listen = "127.0.0.1:{admin}"\n'
            '[tls]\ncert = "dev.crt"\nkey = "dev.key"\ngenerate_self_signed = true\n'
            '[auth]\nissuer = "https://auth.example.test"\nsecret_file = "jwt.secret"\n'
            'generate_secret = true\n[auth.cookie]\nsecure = true\n'
            '[users]\nfile = "users.toml"\n'
            '[[route]]\nupstream = "builtin:whoami"\n'
        )
    return admin


def measure(gateway, users):
    with tempfile.TemporaryDirectory() as folder:
        admin = write_files(folder, gateway, users)
        config = os.path.join(folder, "gateway.toml")
        started = time.monotonic()
        check = subprocess.run([gateway, "check", "--config", config], capture_output=True)
        check_s = time.monotonic() - started
        if check.returncode != 0:
            sys.exit(f"gateway check failed:\n{check.stdout.decode()}{check.stderr.decode()}")
        log_path = os.path.join(folder, "gateway.log")
        with open(log_path, "wb") as log:
            child = subprocess.Popen(
                [gateway, "run", "--config", config], stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": "info"},
            )
        try:
            if not port_accepts(admin, 600):
                sys.exit("the gateway did not start:\n" + open(log_path).read())
            before = open(log_path).read().count("configuration reloaded")
            started = time.monotonic()
            child.send_signal(signal.SIGHUP)
            while open(log_path).read().count("configuration reloaded") == before:
                if child.poll() is not None or time.monotonic() - started > 3600:
                    sys.exit("no reload:\n" + open(log_path).read())
                time.sleep(0.01)
            reload_s = time.monotonic() - started
        finally:
            child.terminate()
            child.wait()
    return check_s, reload_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--gateway", default=os.path.join(ROOT, "target/release/gateway"))
    parser.add_argument("--baseline", help="another gateway binary, measured the same way")
    args = parser.parse_args()
    rows = [("gateway", args.gateway)]
    if args.baseline:
        rows.append(("baseline", args.baseline))
    print(f"users file of {args.users:,} users")
    print(f"{'binary':<10} {'check (s)':>10} {'reload (s)':>11}")
    for name, binary in rows:
        check_s, reload_s = measure(binary, args.users)
        print(f"{name:<10} {check_s:>10.2f} {reload_s:>11.2f}", flush=True)


if __name__ == "__main__":
    main()
