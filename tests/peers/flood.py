#!/usr/bin/env python3
"""Connection flood for scripts/flood.sh: from one source address, keep
opening TCP connections to an RTSP server and hold them silently, up to a
number held at once, for a time; report what the server did with them.

    flood.py HOST PORT --source 127.0.0.2 --connections 24000 --seconds 30

Counts: connections made, refused at connect (the kernel's backlog full or
RST), answered with 503 and closed, closed without a word, and the most held
open at once. Loopback only."""

import argparse
import errno
import ipaddress
import resource
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--source", default="127.0.0.2")
    ap.add_argument("--connections", type=int, default=24000)
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    for addr in (a.host, a.source):
        if not ipaddress.ip_address(addr).is_loopback:
            sys.exit(f"flood.py: {addr} is not a loopback address")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.connections + 64
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, hard), max(want, hard)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    counts = dict(made=0, refused=0, answered_503=0, closed_silently=0, failed_other=0)
    held = 0
    most_held = 0
    end = time.monotonic() + a.seconds
    next_report = time.monotonic() + 5
    while time.monotonic() < end:
        # Open more while under the target.
        opened = 0
        while held < a.connections and opened < 500:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((a.source, 0))
                s.setblocking(False)
                rc = s.connect_ex((a.host, a.port))
            except OSError as e:
                s.close()
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL):
                    break
                counts["failed_other"] += 1
                continue
            if rc not in (0, errno.EINPROGRESS):
                s.close()
                counts["refused"] += 1
                continue
            sel.register(s, selectors.EVENT_READ)
            held += 1
            opened += 1
            counts["made"] += 1
        most_held = max(most_held, held)
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except ConnectionRefusedError:
                data = None
                counts["refused"] += 1
            except OSError:
                data = b""
            if data:
                if b" 503 " in data.split(b"\r\n", 1)[0]:
                    counts["answered_503"] += 1
                else:
                    continue  # something else: keep holding
            elif data is not None:
                counts["closed_silently"] += 1
            sel.unregister(s)
            s.close()
            held -= 1
        if time.monotonic() >= next_report:
            next_report += 5
            print(f"flood: holding {held}; {counts}", flush=True)
    print(f"flood: done; most held at once {most_held}; {counts}", flush=True)


if __name__ == "__main__":
    main()
