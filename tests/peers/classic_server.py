#!/usr/bin/env python3
"""A classic-dialect RTSP server like the seed system's own, for client tests.

Written from the byte-exact recording in tests/data/captures/classic-dialect.md
(the seed system's own client and server on the wire). Serves one .Mjpeg file,
to any number of clients (a thread per connection, a thread per playing
session), on 127.0.0.1.

    classic_server.py --media PATH.Mjpeg [--port 0] [--fps 24] [--seed-bugs]
                      [--bug-session] [--bug-seq-restart] [--max-seconds S]

Prints `READY <port>` on stdout once it listens; runs until SIGTERM/SIGINT (or
--max-seconds). A log of every request and reply goes to stderr.

The dialect, in both modes:
- Requests are read with recv(1024) and split on \\n and single spaces: method and file
  name from line 1, CSeq from the 2nd word of line 2, and on SETUP the RTP port from the
  4th word of line 3 (`Transport: RTP/UDP; client_port= 25000`). The Session header
  received is ignored. Methods other than SETUP/PLAY/PAUSE/TEARDOWN get no reply at all
  (OPTIONS, DESCRIBE: the client waits in vain), nor does a request the state does not
  allow (PLAY in INIT, PAUSE in READY, a second SETUP).
- Replies are one write, bare LF, no blank line: `RTSP/1.0 200 OK\\nCSeq: n\\nSession: s\\n`;
  a SETUP for another file name gets `RTSP/1.0 404 Not Found\\nCSeq: n\\n`.
- RTP goes to the client's address at the port it named: one datagram per frame, a
  12-byte header (V=2, P=X=CC=0, M=0, PT=26, sequence = frame number from 1, continuing
  after a PAUSE, timestamp = Unix time in whole seconds, SSRC=0) and the whole JPEG,
  paced with sleep(1/fps); the file loops at its end.
- TEARDOWN stops the stream and closes the RTP socket; the connection stays open (the
  fixed variant then goes back to INIT and takes a new SETUP; the original keeps its
  state).

--seed-bugs reproduces the original server's faults (each also on its own):
  --bug-session      `Session:` only in replies made while the session is READY (the
                     state before SETUP's own change, after PLAY's/PAUSE's): so SETUP and
                     PLAY replies have none, PAUSE replies have one, TEARDOWN's has one
                     only when READY.
  --bug-seq-restart  the frame counter restarts at 1 when the file loops.
  Also with --seed-bugs: a malformed request kills the connection's reader (no reply,
  nothing more read; the socket stays open), a frame too big for a datagram stops the
  stream, and pacing is a plain sleep(1/fps) after each frame (it drifts).
Without them (the fixed variant): Session on every reply, the sequence number keeps
counting (mod 2^16) over loops, malformed requests are skipped, oversized frames are
skipped, and pacing keeps to the frame clock.
"""

import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

INIT, READY, PLAYING = "INIT", "READY", "PLAYING"
MAX_DATAGRAM = 65507


def log(*a):
    print("classic_server:", *a, file=sys.stderr, flush=True)


def read_frames(path):
    """The JPEGs of a .Mjpeg file (5 ASCII digits of length, then the JPEG), up to the
    first damage."""
    with open(path, "rb") as f:
        data = f.read()
    frames, pos = [], 0
    while pos + 5 <= len(data):
        head = data[pos:pos + 5]
        if not head.isdigit():
            break
        n = int(head)
        if pos + 5 + n > len(data):
            break
        frames.append(data[pos + 5:pos + 5 + n])
        pos += 5 + n
    return frames


class Options:
    def __init__(self, args):
        self.bug_session = args.bug_session or args.seed_bugs
        self.bug_seq_restart = args.bug_seq_restart or args.seed_bugs
        self.seed_bugs = args.seed_bugs
        self.fps = args.fps
        self.name = os.path.basename(args.media)
        self.frames = read_frames(args.media)


class Session(threading.Thread):
    """One TCP connection: the seed's server worker."""

    def __init__(self, conn, addr, opts, stopping):
        super().__init__(daemon=True)
        self.conn, self.addr, self.opts, self.stopping = conn, addr, opts, stopping
        self.state = INIT
        self.session = 0
        self.rtp_port = None
        self.rtp_sock = None
        self.play_event = None
        self.sender = None
        self.frame_index = 0  # next frame of the file
        self.frame_nbr = 0  # frame counter: the RTP sequence number of the last frame sent

    def run(self):
        self.conn.settimeout(0.5)
        try:
            while not self.stopping.is_set():
                try:
                    data = self.conn.recv(1024)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                try:
                    self.process(data.decode("utf-8"))
                except (IndexError, ValueError, UnicodeDecodeError) as e:
                    log(f"{self.addr}: malformed request {data!r}: {type(e).__name__}: {e}")
                    if self.opts.seed_bugs:
                        # The original worker thread dies: nothing more is read or answered.
                        while not self.stopping.wait(0.5):
                            pass
                        break
        finally:
            self.stop_stream(close=True)
            try:
                self.conn.close()
            except OSError:
                pass

    def process(self, text):
        lines = text.split("\n")
        line1 = lines[0].split(" ")
        method, filename = line1[0], line1[1]
        seq = lines[1].split(" ")[1]
        if not self.opts.seed_bugs:
            seq = seq.strip()
        log(f"{self.addr} [{self.state}] > {text!r}")
        if method == "SETUP":
            if self.state != INIT:
                return
            if os.path.basename(filename.strip()) != self.opts.name:
                self.reply(f"RTSP/1.0 404 Not Found\nCSeq: {seq}\n")
                return
            self.rtp_port = int(lines[2].split(" ")[3])
            self.session = random.randint(100000, 999999)
            self.reply_ok(seq)  # made while INIT: no Session line with --bug-session
            self.state = READY
        elif method == "PLAY":
            if self.state != READY:
                return
            self.state = PLAYING
            if self.rtp_sock is None:
                self.rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.reply_ok(seq)
            self.play_event = threading.Event()
            self.sender = threading.Thread(target=self.send_rtp, args=(self.play_event, self.rtp_sock), daemon=True)
            self.sender.start()
        elif method == "PAUSE":
            if self.state != PLAYING:
                return
            self.state = READY
            self.stop_stream(close=False)
            self.reply_ok(seq)
        elif method == "TEARDOWN":
            self.stop_stream(close=True)
            self.reply_ok(seq)
            if not self.opts.seed_bugs:
                self.state = INIT  # the original keeps its state: no new SETUP after this
        else:
            log(f"{self.addr}: {method}: no reply (unknown method)")

    def reply_ok(self, seq):
        text = f"RTSP/1.0 200 OK\nCSeq: {seq}\n"
        if not self.opts.bug_session or self.state == READY:
            text += f"Session: {self.session}\n"
        self.reply(text)

    def reply(self, text):
        log(f"{self.addr} < {text!r}")
        self.conn.sendall(text.encode())

    def stop_stream(self, close):
        if self.play_event is not None:
            self.play_event.set()
        if self.sender is not None and self.sender is not threading.current_thread():
            self.sender.join(2)
        self.sender = None
        if close and self.rtp_sock is not None:
            self.rtp_sock.close()
            self.rtp_sock = None

    def next_frame(self):
        frames = self.opts.frames
        if self.frame_index >= len(frames):
            self.frame_index = 0
            if self.opts.bug_seq_restart:
                self.frame_nbr = 0
        data = frames[self.frame_index]
        self.frame_index += 1
        self.frame_nbr += 1
        return data

    def send_rtp(self, event, sock):
        period = 1.0 / self.opts.fps
        dest = (self.addr[0], self.rtp_port)
        deadline = time.monotonic()
        while not event.is_set() and not self.stopping.is_set():
            if self.opts.seed_bugs:
                time.sleep(period)
            else:
                deadline += period
                delay = deadline - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    deadline = time.monotonic()  # late: don't burst to catch up
            if event.is_set():
                break
            jpeg = self.next_frame()
            header = struct.pack(
                ">BBHII", 0x80, 26, self.frame_nbr & 0xFFFF, int(time.time()) & 0xFFFFFFFF, 0
            )
            pkt = header + jpeg
            if len(pkt) > MAX_DATAGRAM:
                log(f"{self.addr}: frame {self.frame_nbr} is {len(jpeg)} bytes: too big for a datagram")
                if self.opts.seed_bugs:
                    return
                continue
            try:
                sock.sendto(pkt, dest)
            except OSError as e:
                log(f"{self.addr}: sendto {dest}: {e}")
                if self.opts.seed_bugs or sock.fileno() < 0:
                    return


def main(argv):
    ap = argparse.ArgumentParser(description="classic-dialect RTSP server, like the seed's own")
    ap.add_argument("--media", required=True, help="the .Mjpeg file to serve")
    ap.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one)")
    ap.add_argument("--fps", type=float, default=24.0, help="frames per second (default 24)")
    ap.add_argument("--seed-bugs", action="store_true", help="reproduce the original server's faults")
    ap.add_argument("--bug-session", action="store_true", help="Session: only in replies made while READY")
    ap.add_argument("--bug-seq-restart", action="store_true", help="sequence numbers restart at 1 on loop")
    ap.add_argument("--max-seconds", type=float, default=0, help="exit after this long (0 = run until signalled)")
    args = ap.parse_args(argv)
    if not 0 < args.fps <= 1000:
        ap.error("--fps out of range")
    if not 0 <= args.port <= 65535:
        ap.error("--port out of range")
    try:
        opts = Options(args)
    except OSError as e:
        ap.error(f"--media: {e}")
    if not opts.frames:
        ap.error(f"--media {args.media}: no whole frame in it")

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(64)
    lsock.settimeout(0.2)
    print(f"READY {lsock.getsockname()[1]}", flush=True)
    mode = "seed bugs" if args.seed_bugs else ", ".join(
        n for n, on in (("bug-session", opts.bug_session), ("bug-seq-restart", opts.bug_seq_restart)) if on
    ) or "fixed"
    log(f"serving {args.media} as {opts.name} ({len(opts.frames)} frames, {args.fps} fps; {mode})")

    end = time.monotonic() + args.max_seconds if args.max_seconds > 0 else None
    sessions = []
    while not stopping.is_set() and (end is None or time.monotonic() < end):
        try:
            conn, addr = lsock.accept()
        except socket.timeout:
            continue
        except OSError as e:
            log(f"accept: {e}")
            time.sleep(0.1)
            continue
        s = Session(conn, addr, opts, stopping)
        s.start()
        sessions = [t for t in sessions if t.is_alive()] + [s]
    stopping.set()
    lsock.close()
    for s in sessions:
        s.join(2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
