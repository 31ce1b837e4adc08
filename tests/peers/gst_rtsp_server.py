#!/usr/bin/python3
"""Reference RTSP peer: GStreamer's own gst-rtsp-server serving one .Mjpeg file.

Serves PATH as RFC 2435 JPEG over RTP (PT 26) at rtsp://127.0.0.1:PORT/<basename>,
through the pipeline

    ( lengthmjpegsrc location=PATH frame-rate=FPS/1 ! rtpjpegpay name=pay0 pt=26 )

so it needs the project's plugin: set GST_PLUGIN_PATH to the directory holding
libgstmjpegrtsp.so (target/release, or target/debug/deps). When GST_PLUGIN_PATH is
unset, the repository's target/release then target/debug/deps are tried.

Prints one line `READY rtsp://127.0.0.1:PORT/<basename>` on stdout once it listens,
then runs until SIGTERM or SIGINT.

    gst_rtsp_server.py --media movie.Mjpeg [--port 0] [--fps 24] [--shared|--unshared]
                       [--loop] [--tcp-only] [--auth user:pass] [--address 127.0.0.1]
                       [--threads N] [--backlog N] [--session-timeout S]

Needs python3-gi and gir1.2-gst-rtsp-server-1.0 (Debian): run it with the system
python3 (/usr/bin/python3); another interpreter without `gi` re-executes it there.
"""

import argparse
import os
import signal
import sys

try:
    import gi
except ImportError:
    # A pyenv/venv python without the Debian gi bindings: hand over to the system one.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists(
        "/usr/bin/python3"
    ):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])
    raise

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def default_plugin_path():
    for d in ("target/release", "target/debug/deps", "target/debug"):
        p = os.path.join(REPO, d)
        if os.path.exists(os.path.join(p, "libgstmjpegrtsp.so")):
            return p
    return None


def parse_args(argv):
    ap = argparse.ArgumentParser(description="gst-rtsp-server serving one .Mjpeg file (reference peer)")
    ap.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default 0)")
    ap.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ap.add_argument("--media", required=True, help="the .Mjpeg file, served at /<basename>")
    ap.add_argument("--fps", type=int, default=24, help="frame rate (default 24)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--shared", dest="shared", action="store_true", help="one pipeline for all clients")
    g.add_argument("--unshared", dest="shared", action="store_false", help="one pipeline per client (default)")
    ap.set_defaults(shared=False)
    ap.add_argument("--loop", action="store_true", help="loop the file (lengthmjpegsrc loop=true)")
    ap.add_argument("--tcp-only", action="store_true", help="offer RTP over the RTSP connection only")
    ap.add_argument("--auth", metavar="USER:PASS", help="require Digest authentication")
    ap.add_argument(
        "--srtp",
        action="store_true",
        help="offer RTP/SAVP only: SRTP with a random key in the SDP's MIKEY (a=key-mgmt)",
    )
    ap.add_argument("--session-timeout", type=int, default=60, help="RTSP session timeout, s (default 60)")
    ap.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="listen backlog (default: GStreamer's, 5: more simultaneous connects than "
        "that lose SYNs and wait for TCP's 1 s, 3 s, 7 s retransmissions)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="max-threads of the server's thread pool for client connections "
        "(default: GStreamer's, 1: every RTSP connection handled by one thread)",
    )
    a = ap.parse_args(argv)
    if not os.path.isfile(a.media):
        ap.error(f"--media {a.media}: no such file")
    if a.auth is not None and ":" not in a.auth:
        ap.error("--auth wants USER:PASS")
    if not 0 <= a.port <= 65535:
        ap.error("--port out of range")
    if a.fps <= 0:
        ap.error("--fps must be positive")
    return a


def main(argv):
    args = parse_args(argv)
    if not os.environ.get("GST_PLUGIN_PATH"):
        p = default_plugin_path()
        if p:
            os.environ["GST_PLUGIN_PATH"] = p
            print(f"gst_rtsp_server.py: GST_PLUGIN_PATH unset, using {p}", file=sys.stderr)

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    if Gst.ElementFactory.find("lengthmjpegsrc") is None:
        print(
            "gst_rtsp_server.py: element lengthmjpegsrc not found: build the plugin "
            "(cargo build --release -p gst-plugin-mjpegrtsp) and set GST_PLUGIN_PATH "
            "to the directory holding libgstmjpegrtsp.so",
            file=sys.stderr,
        )
        return 2

    media = os.path.abspath(args.media)
    name = os.path.basename(media)
    # gst-launch syntax: quote the path so spaces and the like survive.
    location = media.replace("\\", "\\\\").replace('"', '\\"')
    launch = (
        f'( lengthmjpegsrc location="{location}" frame-rate={args.fps}/1'
        f'{" loop=true" if args.loop else ""} ! rtpjpegpay name=pay0 pt=26 )'
    )

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    if args.backlog is not None:
        server.set_backlog(args.backlog)
    if args.threads is not None:
        server.get_thread_pool().set_max_threads(args.threads)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(args.shared)
    if args.tcp_only:
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    if args.srtp:
        factory.set_profiles(GstRtsp.RTSPProfile.SAVP)

    if args.auth is not None:
        user, password = args.auth.split(":", 1)
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_digest(user, password, token)
        server.set_auth(auth)
        role, _ = Gst.Structure.from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )
        factory.add_role_from_structure(role)

    server.get_mount_points().add_factory("/" + name, factory)

    loop = GLib.MainLoop()
    pool = server.get_session_pool()

    def on_timer():
        pool.cleanup()  # gst-rtsp-server only expires timed-out sessions when asked
        return True

    def on_client(_server, client):
        # Per-session timeout (the Session header's ;timeout=) for new sessions.
        client.connect(
            "new-session", lambda _c, session: session.set_timeout(args.session_timeout)
        )

    server.connect("client-connected", on_client)

    if server.attach(None) == 0:
        print(f"gst_rtsp_server.py: cannot listen on {args.address}:{args.port}", file=sys.stderr)
        return 1
    port = server.get_bound_port()
    GLib.timeout_add_seconds(2, on_timer)
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, lambda *_: (loop.quit(), False)[1])

    host = args.address if ":" not in args.address else f"[{args.address}]"
    print(f"READY rtsp://{host}:{port}/{name}", flush=True)
    print(
        f"gst_rtsp_server.py: {'shared' if args.shared else 'unshared'}"
        f"{', tcp-only' if args.tcp_only else ''}{', digest auth' if args.auth else ''}"
        f", {server.get_thread_pool().get_max_threads()} client thread(s)"
        f", backlog {server.get_backlog()}: {launch}",
        file=sys.stderr,
        flush=True,
    )
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
