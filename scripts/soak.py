#!/usr/bin/env python3
"""Soak driver of scripts/soak.sh (issue 14): loopback only, bounded in time and count.

Per cycle: start `waylog serve` on 127.0.0.1:0 over one data directory, run steady ingest
(writers resend a batch until it is acknowledged, so in the end every sent event is acked)
with concurrent reads and /v1/query, stall the server with SIGSTOP/SIGCONT on some cycles,
run the abuse cases on the chosen cycles, then kill -9. After every restart the stored ids
must equal the acknowledged ids, each exactly once. Prints a report (JSON on the last line).
Only the Python standard library is used.
"""

import argparse
import gzip
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def now_rfc3339(offset_s=-1.0):
    t = time.time() + offset_s
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def event(eid):
    return {
        "schema_version": "2.0",
        "event_id": eid,
        "ts_start": now_rfc3339(-1.0),
        "ts_end": now_rfc3339(-0.9),
        "kind": "http",
        "service": random.choice(["checkout", "payment", "cart"]),
        "env": "prod",
        "trace_id": "%032x" % random.getrandbits(128),
        "status": "ok",
    }


def request(url, method="GET", body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    def __init__(self, binary, data_dir, log_path, env):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", "--otlp-grpc-addr", "127.0.0.1:0",
             "--data-dir", data_dir],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, env=env)
        self.url = None
        deadline = time.time() + 120
        while self.url is None:
            line = self.proc.stdout.readline().decode()
            if line.startswith("waylog listening on "):
                self.url = line.split("waylog listening on ", 1)[1].strip()
            elif not line and self.proc.poll() is not None:
                raise SystemExit("waylog exited during startup; see " + log_path)
            if time.time() > deadline:
                raise SystemExit("waylog printed no address")
        threading.Thread(target=self._drain, daemon=True).start()
        while True:
            try:
                if request(self.url + "/readyz", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("waylog never became ready; see " + log_path)
            time.sleep(0.1)

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.proc.pid))
        except OSError:
            return 0


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = set()
        self.latencies = []
        self.refusals = {}
        self.reads = 0
        self.read_errors = 0

    def refused(self, key):
        with self.lock:
            self.refusals[key] = self.refusals.get(key, 0) + 1


def writer(stats, server_ref, stop, wid, batch):
    n = 0
    pending = None
    # After `stop`, the batch in hand is still resent until acknowledged (bounded), so that
    # every event that may be stored is one the driver counts as acknowledged.
    give_up = None
    while not stop.is_set() or pending is not None:
        if stop.is_set():
            give_up = give_up or time.time() + 60
            if time.time() > give_up:
                stats.refused("abandoned")
                return
        if pending is None:
            ids = ["w%d-%d-%d" % (wid, n, i) for i in range(batch)]
            n += 1
            pending = (ids, json.dumps([event(i) for i in ids]).encode())
        ids, body = pending
        t = time.time()
        try:
            status, answer = request(server_ref[0].url + "/v1/events", "POST", body,
                                     {"Content-Type": "application/json"}, timeout=10)
        except OSError:
            stats.refused("connection")
            time.sleep(0.2)
            continue
        if status == 200:
            a = json.loads(answer)
            if a.get("rejected"):
                raise SystemExit("the driver sent an invalid event: %s" % a["rejected"][:1])
            with stats.lock:
                stats.acked.update(ids)
                stats.latencies.append(time.time() - t)
            pending = None
        else:
            stats.refused(str(status))
            time.sleep(0.2)


def reader(stats, server_ref, stop):
    paths = ["/v1/errors?window=1h", "/v1/capabilities", "/v1/events?window=15m&limit=50"]
    while not stop.is_set():
        try:
            if random.random() < 0.5:
                status, _ = request(server_ref[0].url + "/v1/query", "POST", json.dumps(
                    {"sql": "SELECT service, status, count(*) FROM events GROUP BY 1, 2"}).encode(),
                    {"Content-Type": "application/json"}, timeout=10)
            else:
                status, _ = request(server_ref[0].url + random.choice(paths), timeout=10)
            with stats.lock:
                stats.reads += 1
                if status >= 500 and status != 503:
                    stats.read_errors += 1
        except OSError:
            pass
        time.sleep(0.05)


def stored_ids(server):
    status, body = request(server.url + "/v1/query", "POST", json.dumps(
        {"sql": "SELECT event_id FROM events", "format": "csv", "limit": 50_000_000}).encode(),
        {"Content-Type": "application/json"}, timeout=300)
    if status != 200:
        raise SystemExit("stored ids query failed: %d %s" % (status, body[:200]))
    lines = body.decode().split("\r\n")[1:]
    return [l for l in lines if l]


def wal_and_orphans(data_dir):
    wal = [f for f in os.listdir(os.path.join(data_dir, "wal")) if f.endswith(".wal")]
    listed = set()
    mdir = os.path.join(data_dir, "cold", "_waylog", "manifest")
    if os.path.isdir(mdir):
        newest = sorted(f for f in os.listdir(mdir) if f.endswith(".json"))
        if newest:
            with open(os.path.join(mdir, newest[-1])) as f:
                m = json.load(f)
            for t in m.get("tables", {}).values():
                listed.update(x["path"] for x in t.get("files", []))
    on_disk = set()
    cold = os.path.join(data_dir, "cold")
    for root, _, files in os.walk(cold):
        for f in files:
            if f.endswith(".parquet"):
                on_disk.add(os.path.relpath(os.path.join(root, f), cold))
    return len(wal), len(on_disk - listed)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def empty_spans_request(spans):
    """An ExportTraceServiceRequest: one resource, one scope, `spans` empty spans."""
    scope = b"\x12\x00" * spans  # ScopeSpans.spans (field 2), each an empty message
    resource = b"\x12" + varint(len(scope)) + scope  # ResourceSpans.scope_spans (field 2)
    return b"\x0a" + varint(len(resource)) + resource  # request.resource_spans (field 1)


def peak_rss_during(server, action, seconds):
    peak = server.rss_kib()
    done = threading.Event()

    def run():
        try:
            action()
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    deadline = time.time() + seconds
    while not done.is_set() and time.time() < deadline:
        peak = max(peak, server.rss_kib())
        time.sleep(0.02)
    return peak


def abuse(server):
    results = {}
    # 1. Stalled connections: half a header each, never finished.
    def stalled():
        socks = []
        for _ in range(300):
            try:
                host, port = server.url.replace("http://", "").split(":")
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            except OSError:
                break
        time.sleep(3)
        alive = request(server.url + "/readyz", timeout=10)[0]
        results["stalled_connections"] = {"opened": len(socks), "readyz_during": alive}
        for s in socks:
            s.close()

    # 2. Parallel array bombs: gzip'd arrays of `{}` far over the item limit.
    bomb = gzip.compress(b"[" + b"{}," * 3_000_000 + b"{}]")

    def bombs():
        codes = []

        def one():
            try:
                codes.append(request(server.url + "/v1/events", "POST", bomb,
                                     {"Content-Type": "application/json",
                                      "Content-Encoding": "gzip"}, timeout=60)[0])
            except OSError:
                codes.append("conn")

        ts = [threading.Thread(target=one) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        results["array_bombs"] = {"requests": 8, "gzip_bytes": len(bomb), "statuses": sorted(set(map(str, codes)))}

    # 3. One OTLP request of millions of empty spans (under the body limit).
    spans = empty_spans_request(4_000_000)

    def otlp():
        try:
            status = request(server.url + "/v1/traces", "POST", spans,
                             {"Content-Type": "application/x-protobuf"}, timeout=60)[0]
        except OSError:
            status = "conn"
        results["otlp_empty_spans"] = {"spans": 4_000_000, "body_bytes": len(spans), "status": status}

    for name, action in [("stalled_connections", stalled), ("array_bombs", bombs),
                         ("otlp_empty_spans", otlp)]:
        peak = peak_rss_during(server, action, 90)
        results.setdefault(name, {})["peak_rss_mib"] = round(peak / 1024, 1)
    return results


def percentile(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--cycle-seconds", type=float, default=15)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    random.seed(14)
    work = tempfile.mkdtemp(prefix="waylog-soak-")
    data_dir = os.path.join(work, "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYLOG_")}
    env.update({
        "WAYLOG_LOG": "info",
        "WAYLOG_HOT_WINDOW": "5s",
        "WAYLOG_WAL_SEGMENT_BYTES": "1MiB",
        "WAYLOG_QUERY_MAX_ROWS": "50000000",
        "WAYLOG_QUERY_MAX_RESPONSE_BYTES": "4GiB",
        "WAYLOG_QUERY_TIMEOUT": "300s",
    })
    stats = Stats()
    report = {"cycles": 0, "checks": [], "peak_rss_mib": 0.0, "max_fds": 0,
              "max_wal_segments": 0, "max_orphans": 0, "stalls": 0, "abuse": {}}
    server_ref = [Server(args.bin, data_dir, os.path.join(work, "server.log"), env)]
    abuse_cycles = {args.cycles // 2}
    started = time.time()
    for cycle in range(args.cycles):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(stats, server_ref, stop, cycle * 100 + w, args.batch))
                   for w in range(args.writers)]
        threads += [threading.Thread(target=reader, args=(stats, server_ref, stop))
                    for _ in range(args.readers)]
        for t in threads:
            t.start()
        end = time.time() + args.cycle_seconds
        stalled = False
        if cycle in abuse_cycles:
            report["abuse"] = abuse(server_ref[0])
        while time.time() < end:
            srv = server_ref[0]
            report["peak_rss_mib"] = max(report["peak_rss_mib"], round(srv.rss_kib() / 1024, 1))
            report["max_fds"] = max(report["max_fds"], srv.fds())
            wal, orphans = wal_and_orphans(data_dir)
            report["max_wal_segments"] = max(report["max_wal_segments"], wal)
            report["max_orphans"] = max(report["max_orphans"], orphans)
            if cycle % 3 == 1 and not stalled and time.time() > end - args.cycle_seconds / 2:
                os.kill(srv.proc.pid, signal.SIGSTOP)
                time.sleep(2)
                os.kill(srv.proc.pid, signal.SIGCONT)
                stalled = True
                report["stalls"] += 1
            time.sleep(0.25)
        # Crash with writes in flight; writers keep resending the same batches.
        server_ref[0].kill9()
        server_ref[0] = Server(args.bin, data_dir, os.path.join(work, "server.log"), env)
        stop.set()
        for t in threads:
            t.join()
        ids = stored_ids(server_ref[0])
        with stats.lock:
            acked = set(stats.acked)
        stored = set(ids)
        check = {"cycle": cycle, "acked": len(acked), "stored_rows": len(ids),
                 "lost": len(acked - stored), "duplicated": len(ids) - len(stored),
                 "unacked_stored": len(stored - acked)}
        report["checks"].append(check)
        report["cycles"] += 1
        print(json.dumps(check), flush=True)
    server_ref[0].stop()
    wal, orphans = wal_and_orphans(data_dir)
    last = report["checks"][-1]
    report.update({
        "seconds": round(time.time() - started),
        "acked": last["acked"], "stored": last["stored_rows"],
        "lost_total": sum(c["lost"] for c in report["checks"]),
        "duplicated_max": max(c["duplicated"] for c in report["checks"]),
        "wal_segments_end": wal, "orphans_end": orphans,
        "ack_p50_ms": round(percentile(stats.latencies, 0.50) * 1000, 1),
        "ack_p99_ms": round(percentile(stats.latencies, 0.99) * 1000, 1),
        "refusals": stats.refusals, "reads": stats.reads, "read_5xx": stats.read_errors,
        "data_dir": data_dir if args.keep else "(removed)",
    })
    del report["checks"]
    if not args.keep:
        subprocess.run(["rm", "-rf", work])
    print(json.dumps(report))
    ok = report["lost_total"] == 0 and report["duplicated_max"] == 0 and report["acked"] == report["stored"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
