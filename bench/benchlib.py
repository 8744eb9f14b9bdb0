#!/usr/bin/env python3
"""Helpers for bench/compare.sh: ports, process accounting, load-tool output parsing,
idle TLS connections, and the final table. Standard library only (python3 >= 3.8).

Subcommands (each prints plain text for the shell script):

  freeports N                 N distinct free TCP ports on 127.0.0.1
  wait-port PORT SECONDS      exit 0 once 127.0.0.1:PORT accepts, 1 on timeout
  procstat PID...             "<cpu_seconds> <peak_rss_kib> <rss_kib>" summed over the PIDs
  reset-peak PID...           reset VmHWM (peak RSS) of the PIDs (/proc/PID/clear_refs = 5)
  wrk FILE                    parse wrk --latency output
  h2load FILE LOGFILE         parse h2load output and its --log-file
  idle PORT COUNT TOKEN FILE [h2]
                              open COUNT TLS keep-alive connections, one request each
                              (HTTP/1.1, or HTTP/2 with "h2"), write "ready <opened>" to
                              FILE, then hold them until killed
  logins PORT THREADS SECONDS USER PASSWORD [RATE [fresh]]
                              THREADS clients posting JSON logins for SECONDS, non-stop
                              or paced to RATE logins/s in all, each on a keep-alive TLS
                              connection (with "fresh", a new connection per login);
                              prints "<ok> <failed> <seconds> <refused>"
  table RESULTS.tsv           render the results table

Parsed load results are one line: "requests seconds rps p50_us p99_us errors".
"""

import os
import socket
import ssl
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def freeports(count):
    """`count` distinct free TCP ports on 127.0.0.1 (bound, then released)."""
    socks, ports = [], []
    while len(ports) < count:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        socks.append(s)
        if port not in ports:
            ports.append(port)
    for s in socks:
        s.close()
    return ports


def port_accepts(port, seconds):
    """True once 127.0.0.1:`port` accepts a connection, False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def procstat(pids):
    ticks = peak = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                # The command name may contain spaces: fields are counted after ')'.
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
            peak += _status_kib(pid, "VmHWM")
            rss += _status_kib(pid, "VmRSS")
        except (OSError, IndexError, ValueError):
            pass  # a process that is gone counts as nothing
    print(f"{ticks / CLK_TCK:.2f} {peak} {rss}")


def reset_peak(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def _duration_us(text):
    units = {"us": 1, "ms": 1000, "s": 1_000_000}
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


def parse_wrk(path):
    requests = seconds = rps = p50 = p99 = 0.0
    errors = 0
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            if "requests in" in line:  # "123456 requests in 10.00s, 12.3MB read"
                requests = int(words[0])
                seconds = _duration_us(words[3].rstrip(",")) / 1e6
            elif words[0] == "Requests/sec:":
                rps = float(words[1])
            elif words[0] == "50%":
                p50 = _duration_us(words[1])
            elif words[0] == "99%":
                p99 = _duration_us(words[1])
            elif line.startswith("  Non-2xx or 3xx responses:"):
                errors += int(words[-1])
            elif line.startswith("  Socket errors:"):
                errors += sum(int(w.rstrip(",")) for w in words[3::2])
    ok = requests - errors
    print(f"{ok} {seconds:.3f} {ok / seconds if seconds else rps:.1f} {p50:.0f} {p99:.0f} {errors}")


def _percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def parse_h2load(path, log_path):
    seconds = 0.0
    done = succeeded = 0
    with open(path) as f:
        for line in f:
            words = line.split()
            if line.startswith("finished in"):  # "finished in 10.00s, 1234.5 req/s, ..."
                seconds = _duration_us(words[2].rstrip(",")) / 1e6
            elif line.startswith("requests:"):
                # "requests: N total, N started, N done, N succeeded, N failed, ..."
                done = int(words[5])
            elif line.startswith("status codes:"):
                succeeded = int(words[2])  # "status codes: N 2xx, ..."
    latencies = []
    with open(log_path) as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) >= 3 and cols[1].startswith("2"):
                latencies.append(float(cols[2]))
    latencies.sort()
    errors = max(0, done - succeeded)
    p50, p99 = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
    rps = succeeded / seconds if seconds else 0.0
    print(f"{succeeded} {seconds:.3f} {rps:.1f} {p50:.0f} {p99:.0f} {errors}")


def _request(conn, token):
    conn.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + token.encode()
        + b"\r\n\r\n"
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("connection closed before the response head")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status = head.split(b" ", 2)[1]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    if status != b"200":
        raise OSError(f"status {status.decode()}")


def _hpack_int(value, prefix_bits, first):
    """RFC 7541 5.1: VALUE with a PREFIX_BITS-bit prefix, FIRST holding the bits above it."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def _h2_frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


H2_DATA, H2_HEADERS, H2_SETTINGS, H2_PING, H2_GOAWAY, H2_RST = 0, 1, 4, 6, 7, 3
H2_END_STREAM, H2_ACK, H2_END_HEADERS = 0x1, 0x1, 0x4


def _h2_request(conn, token):
    """The client preface, then GET / on stream 1 and its whole response, answering the
    server's SETTINGS and PINGs; the connection then stays open and idle."""
    value = b"Bearer " + token.encode()
    block = (
        b"\x82\x87\x84"  # :method GET, :scheme https, :path / (static table)
        + _hpack_int(1, 4, 0) + _hpack_int(9, 7, 0) + b"127.0.0.1"  # :authority, not indexed
        + _hpack_int(23, 4, 0) + _hpack_int(len(value), 7, 0) + value  # authorization
    )
    conn.sendall(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        + _h2_frame(H2_SETTINGS, 0, 0)
        + _h2_frame(H2_HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, block)
    )
    data = b""

    def read(n):
        nonlocal data
        while len(data) < n:
            chunk = conn.recv(4096)
            if not chunk:
                raise OSError("connection closed before the response ended")
            data += chunk
        taken, data = data[:n], data[n:]
        return taken

    while True:
        head = read(9)
        length, kind, flags = int.from_bytes(head[:3], "big"), head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = read(length)
        if kind == H2_SETTINGS and not flags & H2_ACK:
            conn.sendall(_h2_frame(H2_SETTINGS, H2_ACK, 0))
        elif kind == H2_PING and not flags & H2_ACK:
            conn.sendall(_h2_frame(H2_PING, H2_ACK, 0, payload))
        elif kind in (H2_GOAWAY, H2_RST):
            raise OSError(f"frame type {kind} from the server")
        elif kind == H2_HEADERS and stream == 1 and payload[:1] != b"\x88":
            # Every server measured sends :status first, 200 as static index 8.
            raise OSError(f"response head not a 200: {payload[:8].hex()}")
        if stream == 1 and kind in (H2_DATA, H2_HEADERS) and flags & H2_END_STREAM:
            return


def idle(port, count, token, ready_path, protocol="h1"):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2" if protocol == "h2" else "http/1.1"])
    request = _h2_request if protocol == "h2" else _request
    held, failures = [], []
    lock = threading.Lock()

    def opener(n):
        for _ in range(n):
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=30)
                conn = context.wrap_socket(raw, server_hostname="localhost")
                if protocol == "h2" and conn.selected_alpn_protocol() != "h2":
                    raise OSError("the server did not choose h2")
                request(conn, token)
                with lock:
                    held.append(conn)
            except OSError as e:
                with lock:
                    failures.append(str(e))

    threads = 8
    workers = [
        threading.Thread(target=opener, args=(count // threads + (i < count % threads),))
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with open(ready_path, "w") as f:
        f.write(f"ready {len(held)}\n")
        if failures:
            f.write(f"failures {len(failures)}: {failures[0]}\n")
    while True:  # hold every connection until the script kills us
        time.sleep(3600)


def logins(port, threads, seconds, user, password, rate=0.0, fresh=False):
    """`threads` clients log in as `user` for `seconds`: non-stop (each sends its next login
    when the last is answered), or paced to `rate` logins/s in all when `rate` > 0. With
    `fresh`, every login opens a TLS connection of its own (a handshake per login); else a
    client keeps its connection. Prints: ok, failed, seconds, refused (429/503 waited out).
    """
    import http.client
    import json

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    body = json.dumps({"username": user, "password": password})
    headers = {"Content-Type": "application/json", "Host": "localhost"}
    if fresh:
        headers["Connection"] = "close"
    counts = {"ok": 0, "failed": 0, "throttled": 0}
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    interval = threads / rate if rate > 0 else 0.0

    def connect():
        return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)

    def client(n):
        conn = connect()
        # Paced clients start spread over one interval, so the logins arrive evenly.
        next_at = started + interval * n / threads
        while time.monotonic() < deadline:
            if interval:
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                if time.monotonic() >= deadline:
                    break
            try:
                conn.request("POST", "/.auth/login", body, headers)
                response = conn.getresponse()
                response.read()
                key = "ok" if response.status == 200 else "failed"
                retry_after = response.getheader("Retry-After")
                if response.status in (429, 503) and retry_after:
                    # Back off as told, as a browser or any well-behaved client does: a
                    # client hammering through 429s measures a login flood, not logins.
                    key = "throttled"
                    time.sleep(max(0.0, min(float(retry_after), deadline - time.monotonic())))
                if fresh:
                    conn.close()
                    conn = connect()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = connect()
                key = "failed"
            with lock:
                counts[key] += 1
        conn.close()

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(f"{counts['ok']} {counts['failed']} {time.monotonic() - started:.3f} {counts['throttled']}")
    return 0 if counts["ok"] > 0 else 1


# ---- table -------------------------------------------------------------------------------

def _ratio(value, reference):
    return f"{value / reference:.2f}" if reference else "-"


PROTOCOL_NAMES = {"h1": "HTTP/1.1", "h2": "HTTP/2", "h2x8": "HTTP/2 ×8"}


def table(path):
    rows = []
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    # Aggregate rounds: requests and CPU summed, req/s and latency averaged. Peak RSS: the
    # lowest of the rounds' peaks, since memory a process kept from an earlier, heavier
    # measurement (malloc and HAProxy's pools rarely give it back) inflates later rounds.
    groups = {}
    order = []
    for r in rows:
        key = (r["proto"], int(r["conc"]), r["target"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    agg = {}
    for key, rs in groups.items():
        n = len(rs)
        requests = sum(int(r["requests"]) for r in rs)
        cpu = sum(float(r["cpu_s"]) for r in rs)
        agg[key] = {
            "rps": sum(float(r["rps"]) for r in rs) / n,
            "p50": sum(float(r["p50_us"]) for r in rs) / n / 1000,
            "p99": sum(float(r["p99_us"]) for r in rs) / n / 1000,
            "cpu_us": cpu / requests * 1e6 if requests else 0.0,
            "rss": min(int(r["peak_rss_kib"]) for r in rs) / 1024,
            "errors": sum(int(r["errors"]) for r in rs),
            "ref": rs[0]["ref"],
            "label": rs[0]["label"],
        }
    columns = [
        ("proto", "<"), ("conn", ">"), ("target", "<"), ("req/s", ">"), ("xHAP", ">"),
        ("xnginx", ">"), ("p50 ms", ">"), ("p99 ms", ">"), ("xHAP", ">"),
        ("CPU us/req", ">"), ("xHAP", ">"), ("peak RSS MB", ">"), ("xHAP", ">"), ("errors", ">"),
    ]
    lines = []
    for key in order:
        proto, conc, target = key
        a = agg[key]
        ref = agg.get((proto, conc, a["ref"]))
        ngx = agg.get((proto, conc, "nginx-tls"))
        lines.append([
            PROTOCOL_NAMES.get(proto, proto), str(conc), a["label"],
            f"{a['rps']:.0f}", _ratio(a["rps"], ref and ref["rps"]),
            _ratio(a["rps"], ngx and ngx["rps"]),
            f"{a['p50']:.2f}", f"{a['p99']:.2f}", _ratio(a["p99"], ref and ref["p99"]),
            f"{a['cpu_us']:.1f}", _ratio(a["cpu_us"], ref and ref["cpu_us"]),
            f"{a['rss']:.1f}", _ratio(a["rss"], ref and ref["rss"]), str(a["errors"]),
        ])
    widths = [max(len(c[0]), *(len(l[i]) for l in lines)) for i, c in enumerate(columns)]

    def fmt(cells):
        out = []
        for (name, align), cell, width in zip(columns, cells, widths):
            out.append(cell.ljust(width) if align == "<" else cell.rjust(width))
        return "| " + " | ".join(out) + " |"

    print(fmt([c[0] for c in columns]))
    print("|" + "|".join(("-" * (w + 1) + ":") if a == ">" else (":" + "-" * (w + 1))
                         for (_, a), w in zip(columns, widths)) + "|")
    for l in lines:
        print(fmt(l))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "freeports":
        print(" ".join(map(str, freeports(int(args[0])))))
    elif command == "wait-port":
        return 0 if port_accepts(int(args[0]), float(args[1])) else 1
    elif command == "procstat":
        procstat(args)
    elif command == "reset-peak":
        reset_peak(args)
    elif command == "wrk":
        parse_wrk(args[0])
    elif command == "h2load":
        parse_h2load(args[0], args[1])
    elif command == "idle":
        idle(int(args[0]), int(args[1]), args[2], args[3], *args[4:5])
    elif command == "logins":
        rate = float(args[5]) if len(args) > 5 else 0.0
        fresh = len(args) > 6 and args[6] == "fresh"
        return logins(int(args[0]), int(args[1]), float(args[2]), args[3], args[4], rate, fresh)
    elif command == "table":
        table(args[0])
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
