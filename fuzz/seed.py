#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/,
from what the repository holds: the byte-exact RTSP captures of both
dialects (tests/data/captures/*.md) and the test JPEGs (tests/data/jpeg/).
Each seed has the shape its target reads (see mjpegrtsp::fuzzing)."""

import ast
import hashlib
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def captured_messages():
    """Every whole message recorded in the captures, as bytes."""
    for md in sorted((ROOT / "tests/data/captures").glob("*.md")):
        for line in md.read_text().splitlines():
            m = re.match(r"^[CS]>[CS] (b'.*')$", line) or re.match(r'^[CS]>[CS] (b".*")$', line)
            if m:
                try:
                    yield ast.literal_eval(m.group(1))
                except (SyntaxError, ValueError):
                    pass  # a packet shown in part


def header_values(messages, names):
    for msg in messages:
        for line in re.split(rb"\r?\n", msg):
            name, _, value = line.partition(b":")
            if name.strip().lower() in names:
                yield value.strip()


def rtp(seq, ts, marker, payload, pt=26):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, 0x1234) + payload


def framed(packets):
    """The one-byte length framing the packet-stream targets read."""
    out = b""
    for p in packets:
        assert len(p) <= 255
        out += bytes([len(p)]) + p
    return out


def seeds():
    messages = list(captured_messages())
    jpegs = [p.read_bytes() for p in sorted((ROOT / "tests/data/jpeg").glob("*.jpg"))]
    yield "rtsp_message", [bytes([chunk]) + m for m in messages for chunk in (255, 7)]
    yield "rtsp_message", [b"\xff" + b"".join(messages[:6])]
    wanted = {b"transport", b"range", b"rtp-info", b"session"}
    auth = [
        b'Digest realm="mjpegrtsp", qop="auth", algorithm=SHA-256, nonce="0000000001f4a1b2c3d4", stale=true',
        b'Digest username="alice", realm="mjpegrtsp", nonce="n", uri="rtsp://127.0.0.1:8554/movie.Mjpeg", '
        b'response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"',
        b'Digest username="alice", realm="mjpegrtsp", nonce="n", uri="/", response="00"',
        b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    ]
    yield "rtsp_headers", list(header_values(messages, wanted)) + auth
    sdps = [m.split(b"\r\n\r\n", 1)[1] for m in messages if b"application/sdp" in m and b"\r\n\r\nv=0" in m]
    # Descriptions written by others: gst-rtsp-server's SRTP offer and its MIKEY.
    others = [f.read_bytes() for f in sorted((ROOT / "tests/data/sdp").glob("*"))]
    yield "sdp", sdps + others
    yield "proxy_protocol", [
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 8554\r\nOPTIONS * RTSP/1.0\r\n",
        b"PROXY TCP6 ::1 fd00::2 1 554\r\n",
        b"PROXY UNKNOWN\r\n",
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x7f\x00\x00\x02\x7f\x00\x00\x01\x9c\x40\x21\x6a",
        b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00",
    ]
    yield "interleaved", [b"$\x00\x00\x05hello$\x01\x00\x00", b"$\x00\x05x\x80\x1a]\t"]
    small = [j for j in jpegs if len(j) < 1200]
    container = b"".join(b"%05d" % len(j) + j for j in small)
    yield "container", [b"\x40" + container, b"\x03" + container + b"00012\xff\xd8garbage"]
    # A tiny JPEG-shaped frame: SOI, bytes, EOI.
    frame = b"\xff\xd8" + bytes(range(40)) + b"\xff\xd9"
    whole = framed([rtp(1, 0, False, frame), rtp(2, 1, False, frame)])
    split = framed([rtp(7, 90, False, frame[:20]), rtp(8, 90, True, frame[20:])])
    yield "reassembly", [b"\x00" + whole, b"\x01" + whole, b"\x02" + split]
    # RFC 2435: main header (type-specific, 24-bit offset, type 1, Q 50,
    # 16x16 pixels), then scan data; the last packet carries EOI's place.
    scan = bytes(range(1, 61))
    head = lambda off: struct.pack("!BBHBBBB", 0, off >> 16, off & 0xFFFF, 1, 50, 2, 2)
    yield "rfc2435_depay", [
        framed([rtp(1, 3000, False, head(0) + scan[:30]), rtp(2, 3000, True, head(30) + scan[30:])]),
        framed([rtp(9, 6000, True, head(0) + scan)]),
    ]


def main():
    count = 0
    for target, items in seeds():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in items:
            name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
            (folder / name).write_bytes(data)
            count += 1
    print(f"seed.py: {count} seeds under {CORPUS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
