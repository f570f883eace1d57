#!/usr/bin/env python3
"""Soak: many clients against chd on loopback tcp for a while.

Each client (its own account and key) places, cancels and reads orders as
fast as it is answered; some reconnect now and then. Checked at the end:
every request got exactly one reply with its own id; chd's heap (RssAnon)
and open file descriptors stayed flat after the warm-up; and the store,
read back with `chctl dump` after a clean stop, holds exactly the
acknowledged orders, fills and cancels.

Usage: soak_chd.py CHD CHCTL LIBCHCLIENT [--seconds S] [--clients N]
       (S defaults to $SOAK_SECONDS or 300; N to 32)
"""
import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chd_harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="soak test of chd")
    ap.add_argument("chd")
    ap.add_argument("chctl")
    ap.add_argument("lib")
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 300)))
    ap.add_argument("--clients", type=int, default=32)
    a = ap.parse_args()
    seconds, n_clients = a.seconds, a.clients
    chd_harness.configure(a.chd, a.chctl, a.lib)
    tmp = tempfile.mkdtemp(prefix="chd-soak-")
    d = chd_harness.Daemon(tmp, "tcp")
    problems = []
    try:
        d.start()
        traders = chd_harness.open_traders(d, n_clients, "s")
        fds_idle = d.fds()
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=t.run, args=(deadline,),
                                    kwargs={"reconnect_every": 500 if k % 4 == 0 else 0})
                   for k, t in enumerate(traders)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        samples = []  # (t, rss_kb, fds)
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.monotonic() < deadline:
                samples.append((time.monotonic() - t0, d.rss_anon_kb(), d.fds()))
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        time.sleep(0.5)  # the last connections close
        fds_after = d.fds()
        sent = sum(t.sent for t in traders)
        answered = sum(t.answered for t in traders)
        ledger = chd_harness.Ledger()
        for t in traders:
            ledger.merge(t.ledger)
            if t.error:
                problems.append(f"{t.account}: {t.error}")
        if answered != sent:
            problems.append(f"{sent} requests sent, {answered} answered")
        # flat after the warm-up (the first quarter): the heap may not grow
        # by more than 10% + 8 MiB between the second quarter and the end
        warm = [s for s in samples if s[0] >= seconds / 4]
        if len(warm) >= 4:
            half = len(warm) // 2
            early = max(s[1] for s in warm[:half])
            late = max(s[1] for s in warm[half:])
            if late > early * 1.10 + 8192:
                problems.append(f"heap grew from {early} KiB to {late} KiB")
            fd_early = max(s[2] for s in warm[:half])
            fd_late = max(s[2] for s in warm[half:])
            if fd_late > fd_early + 8:
                problems.append(f"file descriptors grew from {fd_early} to {fd_late}")
        else:
            problems.append("too few samples: run for at least 8 seconds")
        if fds_after > fds_idle + 2:
            problems.append(f"{fds_idle} fds before the clients, {fds_after} after they left")
        with d.client() as c:
            st = c.stats()
        d.stop()
        problems += ledger.check(d.dump(), exact=True)
        rss = [s[1] for s in samples]
        fds = [s[2] for s in samples]
        print(f"soak: {n_clients} clients, {elapsed:.0f} s, {sent} requests "
              f"({sent / elapsed:.0f}/s), {answered} answered, {len(ledger.orders)} orders, "
              f"{len(ledger.fills)} fills, {len(ledger.cancelled)} cancels acknowledged, "
              f"{sum(t.rejects for t in traders)} business rejects")
        print(f"soak: chd heap {min(rss)}..{max(rss)} KiB, fds {min(fds)}..{max(fds)} "
              f"(idle {fds_idle}, after {fds_after}); server counted {st['requests']} requests, "
              f"{st['rate_limited']} rate limited, {st['unauthorized']} unauthorized")
    finally:
        if d.proc is not None:
            d.stop()
        d.log.close()
        if problems:
            print(f"chd log kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print("FAIL", p)
    print("soak:", "FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
