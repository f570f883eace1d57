#!/usr/bin/env python3
"""The event subscriber of libchclient (ch_sub_*) against fake PUB servers.

libchclient speaks SP's SUB0 itself on ipc:// and tcp:// (NNG 1.5.2 can
deadlock closing a SUB socket that is receiving, see clients/lib/sub.c).
These servers are plain sockets that speak PUB0's side of the wire, so that
each rule of it can be tested, including what a real chd never sends:
prefix filtering, messages split across receive timeouts, a peer that is no
PUB0, an absurd length, a server that goes away and comes back, and that
closing never blocks while messages keep arriving.

Usage: test_sub.py LIBCHCLIENT   (run by ctest)
"""
import os
import socket
import sys
import tempfile
import threading
import time
import unittest

os.environ["CH_CLIENT_LIB"] = sys.argv[1]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients",
                                "python"))
from chclient import Subscriber, TransportError  # noqa: E402

PUB0 = b"\x00SP\x00\x00\x20\x00\x00"
SUB0 = b"\x00SP\x00\x00\x21\x00\x00"


class FakePub:
    """Accepts subscribers on ipc:// or tcp://127.0.0.1; `script(conn, framer)`
    runs for each connection (in a thread) after the header exchange."""

    def __init__(self, kind, script, header=PUB0, addr=None):
        self.kind, self.script, self.header = kind, script, header
        self.conns, self.headers = [], []
        if kind == "ipc":
            self.path = addr or os.path.join(tempfile.mkdtemp(prefix="chsub-"), "pub.ipc")
            self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.srv.bind(self.path)
            self.url = "ipc://" + self.path
        else:
            self.srv = socket.socket()
            self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.srv.bind(("127.0.0.1", addr or 0))
            self.port = self.srv.getsockname()[1]
            self.url = f"tcp://127.0.0.1:{self.port}"
        self.srv.listen(16)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def frame(self, body):
        n = len(body).to_bytes(8, "big")
        return (b"\x01" + n if self.kind == "ipc" else n) + body

    def _accept(self):
        self.srv.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.sendall(self.header)
            got = b""
            while len(got) < 8:
                chunk = conn.recv(8 - len(got))
                if not chunk:
                    return
                got += chunk
            self.headers.append(got)
            self.script(conn, self)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.t.join()
        self.srv.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        if self.kind == "ipc" and os.path.exists(self.path):
            os.unlink(self.path)


def send_all(*bodies):
    def script(conn, pub):
        for b in bodies:
            conn.sendall(pub.frame(b))
        time.sleep(5)  # keep the connection open while the test reads
    return script


class Wire(unittest.TestCase):
    kind = "ipc"

    def test_header_and_prefix(self):
        pub = FakePub(self.kind, send_all(b'order.ann {"n":1}', b'fill.bob {"n":2}',
                                          b'fill.ann {"n":3}', b'fill.annie {"n":4}'))
        try:
            with Subscriber(pub.url, "fill.ann ") as sub:  # the topic and its space
                self.assertEqual(sub.recv(2000), ("fill.ann", {"n": 3}))
                self.assertIsNone(sub.recv(300))  # fill.annie is another topic
                self.assertEqual(pub.headers, [SUB0])
            with Subscriber(pub.url, "") as sub:  # "" takes every topic
                self.assertEqual(sub.recv(2000), ("order.ann", {"n": 1}))
        finally:
            pub.close()

    def test_split_across_timeouts(self):
        body = b'fill.ann {"split":true}'
        whole = None
        go = threading.Event()

        def script(conn, pub):
            nonlocal whole
            whole = pub.frame(body)
            conn.sendall(whole[:5])  # inside the length
            go.wait(5)
            conn.sendall(whole[5:12])  # inside the body
            time.sleep(0.3)
            conn.sendall(whole[12:])
            time.sleep(5)
        pub = FakePub(self.kind, script)
        try:
            with Subscriber(pub.url, "fill.") as sub:
                self.assertIsNone(sub.recv(200))
                go.set()
                self.assertIsNone(sub.recv(100))
                self.assertEqual(sub.recv(3000), ("fill.ann", {"split": True}))
        finally:
            pub.close()

    def test_peer_is_no_pub(self):
        for header in (b"\x00SP\x00\x00\x31\x00\x00", b"HTTP/1.0"):  # REP0; junk
            pub = FakePub(self.kind, send_all(), header=header)
            try:
                with self.assertRaises(TransportError):
                    Subscriber(pub.url, "")
            finally:
                pub.close()

    def test_nothing_there(self):
        if self.kind == "ipc":
            url = "ipc://" + os.path.join(tempfile.mkdtemp(prefix="chsub-"), "none.ipc")
        else:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                url = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        with self.assertRaises(TransportError):
            Subscriber(url, "")

    def test_bad_length_drops_then_reconnects(self):
        n = [0]

        def script(conn, pub):
            n[0] += 1
            if n[0] == 1:  # 1 TiB: no event of chd's; the stream is dropped
                conn.sendall(pub.frame(b"x")[:-9] + (1 << 40).to_bytes(8, "big"))
            else:
                conn.sendall(pub.frame(b'fill.ann {"again":1}'))
            time.sleep(5)
        pub = FakePub(self.kind, script)
        try:
            with Subscriber(pub.url, "fill.") as sub:
                self.assertEqual(sub.recv(5000), ("fill.ann", {"again": 1}))
            self.assertGreaterEqual(n[0], 2)
        finally:
            pub.close()

    def test_server_restarts(self):
        pub = FakePub(self.kind, send_all(b'fill.ann {"life":1}'))
        addr = pub.path if self.kind == "ipc" else pub.port
        with Subscriber(pub.url, "fill.") as sub:
            self.assertEqual(sub.recv(2000), ("fill.ann", {"life": 1}))
            pub.close()  # the server goes away ...
            self.assertIsNone(sub.recv(300))
            pub = FakePub(self.kind, send_all(b'fill.ann {"life":2}'), addr=addr)  # ... and back
            try:
                self.assertEqual(sub.recv(5000), ("fill.ann", {"life": 2}))
            finally:
                pub.close()

    def test_close_while_flooded(self):
        """The NNG 1.5.2 deadlock's recipe: close while messages arrive."""
        def flood(conn, pub):
            f = pub.frame(b'fill.ann {"flood":1}')
            try:
                while not pub.stop.is_set():
                    conn.sendall(f * 64)
            except OSError:
                pass
        pub = FakePub(self.kind, flood)
        try:
            t0 = time.monotonic()
            for _ in range(300):
                with Subscriber(pub.url, "fill.") as sub:
                    self.assertEqual(sub.recv(2000), ("fill.ann", {"flood": 1}))
            self.assertLess(time.monotonic() - t0, 60)
        finally:
            pub.close()


class WireTcp(Wire):
    kind = "tcp"


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
