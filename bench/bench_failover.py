#!/usr/bin/env python3
"""Failover time of a shard on NATS JetStream, and the standby's lag.

Each round: a nats-server (JetStream, loopback), a primary chd and a standby
chd (config `standby`) on the same shard; a client writes orders to the
primary with client_order_id for a while (the standby's lag is sampled:
stream sequences the standby has not applied yet), then the primary is
killed (SIGKILL) and the client, which knows both addresses, resends its
next order to the standby until it is accepted. Failover time: from the
kill to the first accepted write, as the client sees it (the lease's TTL,
1.5 s by default, is most of it). Every acknowledged order must be on the
new primary (checked each round). Measured, never asserted as a time.

With --servers 3: a JetStream cluster of three nats-server on loopback and
the shard's stream and lease bucket with 3 replicas.

Usage: bench_failover.py CHD CHCTL LIBCHCLIENT [--rounds N] [--lease-ms MS] [--servers 1|3]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import chd_harness as H  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("chd")
ap.add_argument("chctl")
ap.add_argument("lib")
ap.add_argument("--rounds", type=int, default=10)
ap.add_argument("--lease-ms", type=int, default=1500)
ap.add_argument("--servers", type=int, choices=(1, 3), default=1)
args = ap.parse_args()
if shutil.which("nats-server") is None:
    print("bench_failover: skipped: needs nats-server (apt-get install nats-server)")
    sys.exit(77)
H.configure(args.chd, args.chctl, args.lib)
cm = H.client_module()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


failovers, lags, lost = [], [], 0
for rnd in range(args.rounds):
    tmp = tempfile.mkdtemp(prefix="ch-failover-")
    nlog = open(os.path.join(tmp, "nats.log"), "w")
    ports = [(H.free_port(), H.free_port()) for _ in range(args.servers)]
    servers = []
    for i, (p, c) in enumerate(ports):
        cmd = ["nats-server", "-js", "-sd", os.path.join(tmp, f"js{i}"), "-a", "127.0.0.1",
               "-p", str(p)]
        if args.servers > 1:
            cmd += ["-n", f"n{i}", "--cluster_name", "ch", "--cluster", f"nats://127.0.0.1:{c}",
                    "--routes", ",".join(f"nats://127.0.0.1:{cp}"
                                         for j, (_, cp) in enumerate(ports) if j != i)]
        servers.append(subprocess.Popen(cmd, stdout=nlog, stderr=nlog))
    url = ",".join(f"nats://127.0.0.1:{p}" for p, _ in ports)
    deadline = time.monotonic() + 30  # until JetStream answers (a meta leader, clustered)
    while time.monotonic() < deadline:
        out = subprocess.run([args.chctl, "cluster", "status", "--nats", url, "--shard",
                              "probe"], capture_output=True, text=True)
        if "no such shard" in out.stderr:
            break
        time.sleep(0.2)
    conf = {"cluster": url, "shard": "bench", "cluster_lease_ms": args.lease_ms,
            "cluster_replicas": args.servers, "cluster_timeout_ms": 5000}
    ds = []
    try:
        for sub in ("a", "s"):
            os.makedirs(os.path.join(tmp, sub))
        a = H.Daemon(os.path.join(tmp, "a"), "ipc", conf)
        ds.append(a)
        a.start()
        ca = a.client()
        s = H.Daemon(os.path.join(tmp, "s"), "ipc", dict(conf, standby=True))
        ds.append(s)
        s.start()
        cs = s.client(timeout_ms=5000)
        call = next(i["symbol"] for i in ca.instruments("BTC") if i["symbol"].endswith("-C"))
        ca.account_open("trader", 10_000_000)
        acked = []
        t_end = time.monotonic() + 1.0
        i = 0
        while time.monotonic() < t_end:
            r = ca.order_new("trader", call, "buy", 1, price=1 + i % 50,
                             client_order_id=f"r{rnd}-{i}")
            acked.append(r["order_id"])
            i += 1
            if i % 25 == 0:
                lags.append(ca.stats()["cluster"]["stream_seq"]
                            - cs.stats()["cluster"]["stream_seq"])
        ca.close()
        t0 = time.monotonic()
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        a.proc = None
        while True:  # the client resends its next order to the standby until accepted
            try:
                cs.order_new("trader", call, "buy", 1, price=7, client_order_id=f"r{rnd}-next")
                break
            except cm.ChError as e:
                if e.code not in ("NOT_PRIMARY", "UNAVAILABLE"):
                    raise
                time.sleep(0.005)
            if time.monotonic() - t0 > 30:
                raise RuntimeError("no failover in 30 s")
        failovers.append((time.monotonic() - t0) * 1e3)
        have = {o["order_id"] for o in cs.orders("trader")}
        lost += len(set(acked) - have)
        cs.close()
    finally:
        for d in ds:
            if d.proc is not None:
                d.stop(signal.SIGKILL)
            d.log.close()
        for n in servers:
            n.terminate()
            n.wait()
        nlog.close()
        shutil.rmtree(tmp, ignore_errors=True)

where = "one nats-server" if args.servers == 1 else "three nats-server (replicas 3)"
print(f"failover: {args.rounds} rounds, lease {args.lease_ms} ms, {where} on loopback, "
      f"primary and standby on ipc://, a client writing ~1 s of orders before each kill -9\n")
print("| measure | p50 | p99 | max | mean |\n|---|---:|---:|---:|---:|")
print(f"| failover: kill -9 to the first accepted write, ms | {pct(failovers, 0.5):.0f} | "
      f"{pct(failovers, 0.99):.0f} | {max(failovers):.0f} | {statistics.mean(failovers):.0f} |")
print(f"| standby lag while writing, stream messages | {pct(lags, 0.5)} | {pct(lags, 0.99)} | "
      f"{max(lags)} | {statistics.mean(lags):.1f} |")
print(f"\nacknowledged orders missing on the new primary: {lost}")
sys.exit(1 if lost else 0)
