#!/usr/bin/env python3
"""A classic-dialect RTSP client that behaves like the seed system's own client.

Written from the byte-exact recording in tests/data/captures/classic-dialect.md
(the seed system's own client and server on the wire), for tests: it puts the
seed client's bytes on the wire and reads replies the way it does, then prints
a JSON summary on stdout.

    classic_client.py --server 127.0.0.1 --port 8554 [--file movie.Mjpeg]
                      [--rtp-port 0] [--reply-timeout 3] [--no-frames]
                      [--play SECS] [--pause SECS] [--wait SECS] [--teardown] ...

The steps (--setup, --play S, --pause S, --wait S, --teardown) run in the order given;
a SETUP comes first when the script does not start with one. --play/--pause send the
request, then watch the UDP port for S seconds.

How it behaves, as the seed client does:
- Requests use bare LF and no blank line, one send() each:
  `SETUP movie.Mjpeg RTSP/1.0\\nCSeq: 1\\nTransport: RTP/UDP; client_port= N\\n`, later
  `PLAY movie.Mjpeg RTSP/1.0\\nCSeq: 2\\nSession: <n>\\n` (<n> = 0 until a SETUP reply set it).
- Buttons act only in the right state: SETUP in INIT, PLAY in READY, PAUSE in PLAYING;
  TEARDOWN is sent in any state (the seed sends `Session: 0` from INIT). A request the
  state forbids is not sent (listed with "sent": false). CSeq counts sent requests.
- A reader thread takes replies with recv(1024), each chunk parsed on its own: split on
  \\n; CSeq = int(2nd word of line 2), compared with the last request's CSeq (a mismatch
  is ignored); after SETUP, session = int(2nd word of line 3); status = int(2nd word of
  line 1); a 200 moves the state (SETUP->READY, PLAY->PLAYING, PAUSE->READY,
  TEARDOWN->INIT). Words are split on single spaces, like str.split(' ').
- Any exception while parsing kills the reader thread, as it does in the seed: later
  replies are never acted on (they are still recorded, "acted": false), the state stays
  where it was. A SETUP reply without a Session line, or `Session: 123;timeout=60`,
  leaves the client stuck in INIT: "stuck_in_init": true.
- RTP arrives on the UDP port it named (bound to 127.0.0.1 before SETUP; --rtp-port 0
  picks a free one), read with recv(20480); a frame is shown (counted) only when its
  sequence number is greater than the last one shown. Datagrams are read from SETUP to
  the end of the script, whatever the state; each is listed with the state it arrived in.

JSON summary keys: server, file, rtp_port, requests [{method, cseq, sent, state, bytes}],
replies [{bytes, status, cseq, session, acted, error}], statuses (of replies acted on),
session, final_state, stuck_in_init, reader_error, datagrams, frames_shown,
first_seq/last_seq (shown frames), frames [{seq, ts, marker, pt, ssrc, size, jpeg_ok,
truncated, shown, state, t}], all_jpeg_ok, timestamps (distinct RTP timestamps shown),
error. Exit status 0 when the script ran (whatever the server did), 1 when the TCP
connection could not be made, 2 on bad arguments.
"""

import argparse
import json
import socket
import sys
import threading
import time

INIT, READY, PLAYING = "INIT", "READY", "PLAYING"
RTP_RECV = 20480
RTSP_RECV = 1024


class StepAction(argparse.Action):
    """Appends (step, seconds) to args.steps, keeping the command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        steps = getattr(namespace, "steps", None) or []
        name = option_string.lstrip("-")
        if name in ("play", "pause", "wait"):
            secs = float(values)
            if not 0 <= secs <= 3600:
                parser.error(f"{option_string}: seconds out of range")
            steps.append((name, secs))
        else:
            steps.append((name, 0.0))
        namespace.steps = steps


class ClassicClient:
    def __init__(self, server, port, filename, rtp_port, reply_timeout, keep_frames):
        self.server, self.port, self.filename = server, port, filename
        self.reply_timeout = reply_timeout
        self.keep_frames = keep_frames
        self.t0 = time.monotonic()
        self.state = INIT
        self.rtsp_seq = 0
        self.session_id = 0
        self.request_sent = None  # method of the last request sent
        self.lock = threading.Lock()
        self.reply_event = threading.Event()
        self.stop = threading.Event()
        self.requests, self.replies, self.statuses = [], [], []
        self.reader_error = None
        self.reader_alive = True
        self.frames = []
        self.datagrams = 0
        self.frames_shown = 0
        self.frame_nbr = 0  # last sequence number shown
        self.shown_bad_jpeg = 0
        self.setup_sent = False
        self.left_init = False
        self.first_seq = self.last_seq = None
        self.timestamps = []

        # The RTP port is bound before SETUP so that its number is free and known.
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.rtp.bind(("127.0.0.1", rtp_port))
        self.rtp.settimeout(0.2)
        self.rtp_port = self.rtp.getsockname()[1]

        self.rtsp = socket.create_connection((server, port), timeout=5)
        self.rtsp.settimeout(0.2)
        self.reader = threading.Thread(target=self._read_replies, daemon=True)
        self.rtp_thread = threading.Thread(target=self._read_rtp, daemon=True)
        self.reader.start()

    def now(self):
        return round(time.monotonic() - self.t0, 4)

    # -- requests ---------------------------------------------------------------------

    def send_request(self, method):
        with self.lock:
            allowed = {
                "SETUP": self.state == INIT,
                "PLAY": self.state == READY,
                "PAUSE": self.state == PLAYING,
                "TEARDOWN": True,
            }[method]
            if not allowed:
                self.requests.append({"method": method, "sent": False, "state": self.state})
                return False
            self.rtsp_seq += 1
            if method == "SETUP":
                req = (
                    f"SETUP {self.filename} RTSP/1.0\nCSeq: {self.rtsp_seq}\n"
                    f"Transport: RTP/UDP; client_port= {self.rtp_port}\n"
                )
            else:
                req = f"{method} {self.filename} RTSP/1.0\nCSeq: {self.rtsp_seq}\nSession: {self.session_id}\n"
            data = req.encode()
            self.request_sent = method
            self.setup_sent |= method == "SETUP"
            self.reply_event.clear()
            self.requests.append(
                {"method": method, "cseq": self.rtsp_seq, "sent": True, "state": self.state,
                 "bytes": repr(data), "t": self.now()}
            )
        self.rtsp.sendall(data)  # one short write: one segment on loopback
        if method == "SETUP" and not self.rtp_thread.is_alive():
            self.rtp_thread.start()
        return True

    def wait_reply(self):
        """Waits for the reader to take a chunk, at most reply_timeout seconds."""
        return self.reply_event.wait(self.reply_timeout)

    # -- the reply reader (a thread, like the seed's) ------------------------------------

    def _read_replies(self):
        while not self.stop.is_set():
            try:
                chunk = self.rtsp.recv(RTSP_RECV)
            except socket.timeout:
                continue
            except OSError as e:
                self.replies.append({"bytes": None, "error": f"recv: {e}", "acted": False, "t": self.now()})
                break
            if not chunk:
                self.replies.append({"bytes": repr(b""), "error": "connection closed", "acted": False, "t": self.now()})
                break
            entry = {"bytes": repr(chunk), "t": self.now()}
            entry.update(observe(chunk))
            with self.lock:
                if not self.reader_alive:
                    entry["acted"] = False
                    self.replies.append(entry)
                    self.reply_event.set()
                    continue
                try:
                    entry["acted"] = self._parse_reply(chunk.decode("utf-8"))
                except Exception as e:  # the seed's reader thread dies here
                    entry["acted"] = False
                    entry["error"] = f"{type(e).__name__}: {e}"
                    self.reader_error = entry["error"]
                    self.reader_alive = False
                self.replies.append(entry)
            self.reply_event.set()

    def _parse_reply(self, text):
        lines = text.split("\n")
        seq = int(lines[1].split(" ")[1])
        if seq != self.rtsp_seq:
            return False
        if self.request_sent == "SETUP":
            session = int(lines[2].split(" ")[1])
            if self.session_id == 0:
                self.session_id = session
        status = int(lines[0].split(" ")[1])
        self.statuses.append(status)
        if status == 200:
            self.state = {
                "SETUP": READY,
                "PLAY": PLAYING,
                "PAUSE": READY,
                "TEARDOWN": INIT,
            }.get(self.request_sent, self.state)
            self.left_init |= self.state != INIT
        return True

    # -- RTP ------------------------------------------------------------------------------

    def _read_rtp(self):
        while not self.stop.is_set():
            try:
                pkt = self.rtp.recv(RTP_RECV)
            except socket.timeout:
                continue
            except OSError:
                break
            self.datagrams += 1
            seq = (pkt[2] << 8) | pkt[3] if len(pkt) >= 4 else 0
            ts = int.from_bytes(pkt[4:8], "big") if len(pkt) >= 8 else None
            payload = pkt[12:]
            jpeg_ok = payload[:2] == b"\xff\xd8" and payload[-2:] == b"\xff\xd9"
            shown = seq > self.frame_nbr
            if shown:
                self.shown_bad_jpeg += not jpeg_ok
                self.frame_nbr = seq
                self.frames_shown += 1
                if self.first_seq is None:
                    self.first_seq = seq
                self.last_seq = seq
                if ts is not None and (not self.timestamps or self.timestamps[-1] != ts):
                    self.timestamps.append(ts)
            if self.keep_frames:
                self.frames.append({
                    "seq": seq,
                    "ts": ts,
                    "marker": (pkt[1] >> 7) if len(pkt) >= 2 else None,
                    "pt": (pkt[1] & 0x7F) if len(pkt) >= 2 else None,
                    "version": (pkt[0] >> 6) if pkt else None,
                    "ssrc": int.from_bytes(pkt[8:12], "big") if len(pkt) >= 12 else None,
                    "size": len(pkt),
                    "jpeg_ok": jpeg_ok,
                    "truncated": len(pkt) >= RTP_RECV,
                    "shown": shown,
                    "state": self.state,
                    "t": self.now(),
                })

    def watch(self, secs):
        self.stop.wait(secs)

    def close(self):
        # Give late replies a moment to be recorded, then stop both threads.
        time.sleep(0.1)
        self.stop.set()
        for t in (self.reader, self.rtp_thread):
            if t.is_alive():
                t.join(2)
        for s in (self.rtsp, self.rtp):
            try:
                s.close()
            except OSError:
                pass

    def summary(self):
        return {
            "server": f"{self.server}:{self.port}",
            "file": self.filename,
            "rtp_port": self.rtp_port,
            "requests": self.requests,
            "replies": self.replies,
            "statuses": self.statuses,
            "session": self.session_id,
            "final_state": self.state,
            # a SETUP went out but no reply ever moved the client out of INIT
            "stuck_in_init": self.setup_sent and not self.left_init,
            "reader_error": self.reader_error,
            "datagrams": self.datagrams,
            "frames_shown": self.frames_shown,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "all_jpeg_ok": self.shown_bad_jpeg == 0 if self.frames_shown else None,
            "timestamps": self.timestamps,
            "frames": self.frames,
            "error": None,
        }


def observe(chunk):
    """What a reply chunk says, read leniently, for the report only (never for state)."""
    out = {"status": None, "cseq": None, "session": None}
    try:
        lines = chunk.decode("utf-8", "replace").split("\n")
        out["status"] = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "cseq":
                out["cseq"] = int(v.strip())
            elif k.strip().lower() == "session":
                out["session"] = v.strip()
    except (ValueError, IndexError):
        pass
    return out


def main(argv):
    ap = argparse.ArgumentParser(description="classic-dialect RTSP client, like the seed's own")
    ap.add_argument("--server", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="RTSP port of the server")
    ap.add_argument("--file", default="movie.Mjpeg", help="file name put in the request line")
    ap.add_argument("--rtp-port", type=int, default=0, help="UDP port for RTP (0 = pick a free one)")
    ap.add_argument("--reply-timeout", type=float, default=3.0, help="seconds to wait for each reply")
    ap.add_argument("--no-frames", action="store_true", help="leave the per-datagram list out of the JSON")
    ap.add_argument("--indent", action="store_true", help="pretty-print the JSON")
    for name in ("--setup", "--teardown"):
        ap.add_argument(name, nargs=0, action=StepAction, dest="steps")
    for name in ("--play", "--pause", "--wait"):
        ap.add_argument(name, action=StepAction, dest="steps", metavar="SECS")
    args = ap.parse_args(argv)
    steps = args.steps or []
    if not steps or steps[0][0] != "setup":
        steps.insert(0, ("setup", 0.0))
    if args.server not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--server must be a loopback address")
    if not 0 < args.reply_timeout <= 60:
        ap.error("--reply-timeout out of range")

    try:
        client = ClassicClient(args.server, args.port, args.file, args.rtp_port,
                               args.reply_timeout, not args.no_frames)
    except OSError as e:
        print(json.dumps({"error": f"connect {args.server}:{args.port}: {e}"}))
        return 1
    try:
        for name, secs in steps:
            if name == "wait":
                client.watch(secs)
                continue
            if client.send_request(name.upper()):
                client.wait_reply()
            if name in ("play", "pause"):
                client.watch(secs)
    except OSError as e:
        client.close()
        out = client.summary()
        out["error"] = f"send: {e}"
        print(json.dumps(out, indent=2 if args.indent else None))
        return 0
    client.close()
    print(json.dumps(client.summary(), indent=2 if args.indent else None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
