#!/usr/bin/env python3
"""Resident memory of a gateway through a flood of concurrent wrong-password logins.

    bench/login_flood_memory.py BIN [LOGINS]

Starts BIN (a gateway build, ideally `target/release/gateway`) with a self-signed
certificate and a users file of one argon2id user hashed by `BIN hash-password` (the
default parameters: m=19456 KiB), sends LOGINS (default 1000) concurrent JSON logins with
a wrong password, each on its own TLS connection, and prints from /proc/PID/status:

  idle      VmRSS after start and one warm-up login
  peak      VmHWM at the end of the flood (the process's peak, start included)
  after Ns  VmRSS 1, 2, 5 and 10 s after the last answer

Standard library only. The numbers are for docs/security.md and the issue note; the
regression test (tests/integration/auth/hash_memory.rs) asserts the bounds deterministically.
"""

import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import freeports, port_accepts  # noqa: E402


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


async def login(port, context, password):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost"
    )
    body = json.dumps({"username": "alice", "password": password}).encode()
    head = (
        "POST /.auth/login HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1])


async def flood(port, count):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    results = await asyncio.gather(
        *(login(port, context, f"wrong-{n}") for n in range(count)),
        return_exceptions=True,
    )
    statuses = {}
    for result in results:
        key = result if isinstance(result, int) else type(result).__name__
        statuses[key] = statuses.get(key, 0) + 1
    return statuses


def main(argv):
    binary = os.path.abspath(argv[1])
    count = int(argv[2]) if len(argv) > 2 else 1000
    with tempfile.TemporaryDirectory() as folder:
        hashed = subprocess.run(
            [binary, "hash-password"],
            input=b"the right password\n",
            capture_output=True,
            check=True,
        ).stdout.decode().strip()
        with open(os.path.join(folder, "users.toml"), "w") as f:
            f.write(f'[[user]]\nname = "alice"\npassword = "{hashed}"\n')
        port = freeports(1)[0]
        with open(os.path.join(folder, "gateway.toml"), "w") as f:
            f.write(
                f'[server]\nlisten = "127.0.0.1:{port}"\n'
                f'[tls]\ncert = "dev.crt"\nkey = "dev.key"\ngenerate_self_signed = true\n'
                f'[auth]\nissuer = "https://localhost"\nsecret_file = "jwt.secret"\n'
                f"generate_secret = true\n"
                f'[users]\nfile = "users.toml"\nmax_failures = 1000000\n'
                f'[[route]]\npath = "/"\nupstream = "builtin:whoami"\n'
            )
        log = open(os.path.join(folder, "gateway.log"), "w")
        child = subprocess.Popen(
            [binary, "--config", os.path.join(folder, "gateway.toml")],
            stdout=log,
            stderr=log,
            env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"},
        )
        try:
            if not port_accepts(port, 30):
                sys.exit("gateway did not start")
            asyncio.run(flood(port, 1))
            time.sleep(2)
            idle = status_kib(child.pid, "VmRSS")
            samples = []
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    samples.append(status_kib(child.pid, "VmRSS"))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.monotonic()
            statuses = asyncio.run(flood(port, count))
            took = time.monotonic() - started
            stop.set()
            sampler.join()
            peak = status_kib(child.pid, "VmHWM")
            print(f"logins {count} in {took:.1f}s, statuses {statuses}")
            print(f"idle      {idle / 1024:7.1f} MiB")
            print(f"peak      {peak / 1024:7.1f} MiB (sampled max {max(samples) / 1024:.1f})")
            ended = time.monotonic()
            for after in (1, 2, 5, 10):
                time.sleep(max(0.0, ended + after - time.monotonic()))
                rss = status_kib(child.pid, "VmRSS")
                print(f"after {after:2}s {rss / 1024:7.1f} MiB")
        finally:
            child.terminate()
            child.wait()


if __name__ == "__main__":
    main(sys.argv)
