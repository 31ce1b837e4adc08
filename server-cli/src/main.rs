//! `server-cli`: serves every `.Mjpeg` file under a directory, and optionally
//! a live GStreamer source, over RTSP to classic (seed) and standard clients.
//! Flags, logging and signals live here; the protocol is in
//! `mjpegrtsp::server`.

mod add_user;
#[cfg(feature = "gstreamer")]
mod convert;
#[cfg(feature = "gstreamer")]
mod sample;

use clap::Parser;
use mjpegrtsp::container::IndexCache;
use mjpegrtsp::server::{
    Access, Admission, HttpConfig, LiveMount, Server, ServerConfig, TlsConfig, limits, users,
};
use mjpegrtsp::timing::FrameRate;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// RTSP/1.0 server for .Mjpeg files (five-digit length + JPEG per frame) and
/// live GStreamer sources.
///
/// Every .Mjpeg under --media-dir is served at its relative path, e.g.
/// rtsp://127.0.0.1:8554/movie.Mjpeg. Standard clients (ffplay, VLC,
/// GStreamer rtspsrc) get RFC 2435 JPEG over RTP (UDP or TCP interleaved);
/// the seed system's classic Python client gets its own dialect. With no
/// --media-dir, a built-in sample clip is made and served.
#[derive(Debug, Parser)]
#[command(version, about, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// RTSP port.
    #[arg(long, default_value_t = 8554)]
    port: u16,
    /// Directory whose .Mjpeg files are served (default: a built-in sample).
    #[arg(long, value_name = "DIR")]
    media_dir: Option<PathBuf>,
    /// Frame rate the files are played at: 24, 30000/1001 or 29.97.
    #[arg(long, default_value = "24")]
    fps: FrameRate,
    /// Start files again from the beginning when they end.
    #[arg(long = "loop")]
    looping: bool,
    /// Also serve a live source at /live: a gst-launch-1.0 description that
    /// produces image/jpeg (or raw video, which is encoded), shared by its viewers.
    #[arg(long, value_name = "LAUNCH")]
    pipeline: Option<String>,
    /// A live source at PATH (repeatable): like --pipeline, at another
    /// mount, e.g. --pipeline-at cams/test 'videotestsrc is-live=true ! jpegenc'.
    #[arg(long, num_args = 2, value_names = ["PATH", "LAUNCH"], action = clap::ArgAction::Append)]
    pipeline_at: Vec<String>,
    /// Re-serve an upstream RTSP stream at PATH (repeatable), frames
    /// unchanged: opened at the first viewer, shared by all, closed 5 s
    /// after the last; tried again with back-off when it fails. E.g.
    /// --relay door=rtsp://user:pass@camera/stream (the password is never logged).
    #[arg(long, value_name = "PATH=URL", value_parser = relay_mount)]
    relay: Vec<LiveMount>,
    /// PEM certificates to trust for rtsps:// relay upstreams instead of the
    /// system's roots (a private CA, or the upstream's self-signed certificate).
    #[arg(long, value_name = "FILE")]
    relay_ca: Option<PathBuf>,
    /// Let clients publish an MJPEG (RFC 2435) stream at any free path
    /// (ANNOUNCE and RECORD, over UDP or TCP), e.g. `ffmpeg -re -i IN -c:v
    /// mjpeg -pix_fmt yuvj420p -huffman default -f rtsp
    /// rtsp://HOST:8554/cam1`; its viewers get it live, and
    /// the path is freed when the publisher leaves. With --users, only users
    /// with a `publish=PATTERN` mount may publish.
    #[arg(long)]
    publish: bool,
    /// Most sessions at once; more get 453 Not Enough Bandwidth.
    #[arg(long, default_value_t = 1000)]
    max_sessions: usize,
    /// Media threads sending frames (0: one per core, less one for the
    /// control plane from four cores up). A session stays on one thread.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=1024))]
    media_threads: u16,
    /// A media thread busier than this share of its time, or that would be
    /// with one more session, takes no new session: PLAY gets 453 (HTTP
    /// viewers 503) rather than degrade the sessions playing. 100 turns the
    /// busy check off.
    #[arg(long, default_value_t = 75, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
    max_engine_load: u8,
    /// No new session either while the whole machine's CPUs are busier
    /// than this (settled over a second; niced programs aside), counting
    /// the sessions just started: room for the control plane, the kernel
    /// and other programs. A media thread that would stay under a quarter
    /// of --max-engine-load still takes sessions. 100 turns the machine
    /// check off.
    #[arg(long, default_value_t = 70, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
    max_machine_load: u8,
    /// A media thread at least a quarter as busy as --max-engine-load whose
    /// sends run later than this (99th percentile over a quarter second)
    /// takes no new session either.
    #[arg(long, default_value_t = 10, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_send_delay: u32,
    /// Where files' indexes are remembered between runs, so that a large
    /// file opens at once even when it is not in the page cache (default:
    /// $XDG_CACHE_HOME/mjpegrtsp/index or ~/.cache/mjpegrtsp/index; files
    /// under 16 MiB are not remembered). A file is served before its index
    /// is complete in any case.
    #[arg(long, value_name = "DIR", conflicts_with = "no_index_cache")]
    index_cache: Option<PathBuf>,
    /// Remember no index: every first open of a file walks it again (in
    /// the background).
    #[arg(long)]
    no_index_cache: bool,
    /// Most sessions one client address may hold (0: no limit); more get 453.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_SESSIONS_PER_ADDRESS, value_name = "N")]
    max_sessions_per_address: usize,
    /// Most connections at once; more are answered 503 and closed. Kept
    /// below the open-file limit (raised to its hard limit at start), with
    /// 256 descriptors spare.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    max_connections: usize,
    /// Most connections one client address may hold (0: no limit); more
    /// are answered 503 and closed.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, value_name = "N")]
    max_connections_per_address: usize,
    /// Seconds a request may take from its first byte to its end; a slower
    /// one (slowloris) closes its connection.
    #[arg(long, default_value_t = limits::DEFAULT_REQUEST_TIMEOUT.as_secs(), value_name = "SECONDS")]
    request_timeout: u64,
    /// Seconds a connection holding no session may stay silent before it
    /// is closed.
    #[arg(long, default_value_t = limits::DEFAULT_IDLE_TIMEOUT.as_secs(), value_name = "SECONDS")]
    idle_timeout: u64,
    /// Seconds without a request (or RTCP from the client) before a session
    /// is reclaimed; advertised in the Session header.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    session_timeout: u64,
    /// Largest RTP packet to send over UDP, header included.
    #[arg(long, default_value_t = 1400)]
    mtu: usize,
    /// Ask every client for a user of this file (see add-user) with Digest
    /// authentication, and let each play only its mounts.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// The realm of the Digest challenges (the users' hashes are for it).
    #[arg(long, default_value = users::DEFAULT_REALM, requires = "users")]
    realm: String,
    /// A mount pattern anyone may play without a user, classic clients
    /// included (repeatable; e.g. --public 'demo/*').
    #[arg(long, value_name = "PATTERN", requires = "users")]
    public: Vec<String>,
    /// Also serve rtsps:// (RTSP over TLS) with this certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The rtsps:// port.
    #[arg(long, default_value_t = 8322)]
    tls_port: u16,
    /// Serve rtsps:// only: no plain RTSP port, and no HTTP port unless
    /// --http-port asks for one (its pages and streams are in clear).
    #[arg(long, requires = "tls_cert")]
    no_plain: bool,
    /// rtsps:// media as plain RTP (RTP/AVP) instead of SRTP, for clients
    /// that read neither SDES (a=crypto) nor MIKEY (a=key-mgmt) keys.
    /// Interleaved media stays inside TLS; UDP media is then in clear.
    #[arg(long, requires = "tls_cert")]
    no_srtp: bool,
    /// Take the PROXY protocol (v1 or v2, as HAProxy's send-proxy and
    /// send-proxy-v2 write it) from this proxy: an address or a network
    /// (10.0.0.0/8); repeatable. Its connections must start with a PROXY
    /// header, whose client address is then used for media, limits and logs;
    /// a PROXY header from any other address closes its connection.
    #[arg(long, value_name = "ADDR[/LEN]")]
    proxy_protocol: Vec<mjpegrtsp::net::IpNet>,
    /// The HTTP port on the same --bind: an index page, /watch/MOUNT pages
    /// for any browser, MJPEG over HTTP at /stream/MOUNT, /snapshot/MOUNT,
    /// Prometheus /metrics and /api/v1/status. 0 turns it off. [default:
    /// 8080; when 8080 is taken the server starts without HTTP and says so;
    /// off with --no-plain]
    #[arg(long, value_name = "PORT")]
    http_port: Option<u16>,
}

/// What else server-cli does besides serving.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Add a user to a users file (created if missing), or replace the user
    /// of that name; the password is read from standard input (one line),
    /// and only its Digest hashes (MD5 and SHA-256 of name:realm:password)
    /// are written.
    AddUser {
        /// The users file.
        file: PathBuf,
        /// The user name (no ':').
        name: String,
        /// The realm the hashes are for; it must be the server's.
        #[arg(long, default_value = users::DEFAULT_REALM)]
        realm: String,
        /// The mounts the user may play: comma-separated patterns, `*`
        /// within a path segment, `**` across segments ("**": all).
        #[arg(long, default_value = "**")]
        mounts: String,
    },
    /// Convert any video (mp4, mkv, avi, mov, …), a folder or glob of JPEGs,
    /// a raw MJPEG stream or a .Mjpeg file into a .Mjpeg file that every
    /// client plays: baseline 4:2:0 JPEG, encoded on every core.
    #[cfg(feature = "gstreamer")]
    Convert(convert::ConvertArgs),
}

const EXAMPLES: &str = "\
Examples:
  server-cli                                  serve the built-in sample
  server-cli --media-dir ~/videos --loop      serve a directory, looping
  server-cli --pipeline 'videotestsrc is-live=true ! jpegenc'
  echo 's3cret' | server-cli add-user users.txt alice --mounts 'cams/*'
  server-cli convert holiday.mp4 media/holiday.Mjpeg   make a .Mjpeg from any video
  server-cli --users users.txt --public 'demo/*'   only users (Digest), demo/ open to all
  server-cli --tls-cert cert.pem --tls-key key.pem also rtsps:// on port 8322
  ffplay rtsp://127.0.0.1:8554/movie.Mjpeg    watch (RFC 2435 over UDP)
  gst-launch-1.0 rtspsrc location=rtsp://127.0.0.1:8554/movie.Mjpeg ! rtpjpegdepay ! jpegdec ! autovideosink

Logging: RUST_LOG=debug (or info, warn, mjpegrtsp::server=trace).";

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::AddUser {
        file,
        name,
        realm,
        mounts,
    }) = &args.command
    {
        return match add_user::run(file, name, realm, mounts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    #[cfg(feature = "gstreamer")]
    if let Some(Command::Convert(convert_args)) = &args.command {
        let result = init_gstreamer().and_then(|()| convert::run(convert_args));
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    #[cfg(feature = "gstreamer")]
    if let Err(e) = init_gstreamer() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let media_dir = match &args.media_dir {
        Some(dir) => dir.clone(),
        #[cfg(feature = "gstreamer")]
        None => match sample::ensure_sample() {
            Ok(dir) => dir,
            Err(e) => {
                eprintln!("error: cannot make the built-in sample: {e}");
                return ExitCode::FAILURE;
            }
        },
        #[cfg(not(feature = "gstreamer"))]
        None => {
            eprintln!(
                "error: give --media-dir: this build has no GStreamer to make the built-in sample"
            );
            return ExitCode::FAILURE;
        }
    };
    let access = match &args.users {
        None => None,
        Some(file) => match users::Users::load(file) {
            Ok(list) => {
                for u in list.users().filter(|u| u.realm != args.realm) {
                    eprintln!(
                        "warning: {}: user {} has hashes for realm {:?}, not {:?}: it cannot log in",
                        file.display(),
                        u.name,
                        u.realm,
                        args.realm
                    );
                }
                Some(Access {
                    users: list,
                    realm: args.realm.clone(),
                    public: args.public.clone(),
                })
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let config = ServerConfig {
        bind: args.bind,
        port: args.port,
        media_dir,
        fps: args.fps,
        looping: args.looping,
        live: args
            .pipeline
            .iter()
            .map(LiveMount::default_path)
            .chain(
                args.pipeline_at
                    .chunks(2)
                    .map(|pair| LiveMount::new(&pair[0], &pair[1])),
            )
            .chain(args.relay.iter().cloned())
            .collect(),
        publish: args.publish,
        max_sessions: args.max_sessions,
        media_threads: usize::from(args.media_threads),
        admission: Admission {
            max_busy: busy_limit(args.max_engine_load),
            max_late: Duration::from_millis(u64::from(args.max_send_delay)),
            max_machine_busy: busy_limit(args.max_machine_load),
        },
        max_sessions_per_address: args.max_sessions_per_address,
        max_connections: args.max_connections.max(1),
        max_connections_per_address: args.max_connections_per_address,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        session_timeout: Duration::from_secs(args.session_timeout.max(1)),
        mtu: args.mtu.clamp(256, 65_000),
        access,
        tls: args
            .tls_cert
            .clone()
            .zip(args.tls_key.clone())
            .map(|(cert, key)| TlsConfig {
                srtp: !args.no_srtp,
                ..TlsConfig::new(cert, key, args.tls_port)
            }),
        plain: !args.no_plain,
        index_cache: match (&args.index_cache, args.no_index_cache) {
            (_, true) => None,
            (Some(dir), false) => Some(IndexCache::new(dir)),
            (None, false) => IndexCache::user(),
        },
        trusted_proxies: args.proxy_protocol.clone(),
        relay_ca_file: args.relay_ca.clone(),
        http: match args.http_port {
            None if args.no_plain => None,
            None => Some(HttpConfig {
                port: 8080,
                optional: true,
            }),
            Some(0) => None,
            Some(port) => Some(HttpConfig::on(port)),
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mounts = server.urls();
        if mounts.is_empty() {
            eprintln!(
                "warning: no .Mjpeg file under {}",
                server.media_root().display()
            );
        }
        for url in &mounts {
            println!("{url}");
        }
        if let Some(url) = server.http_url() {
            println!("{url}");
        }
        server.run(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// A busy limit given in percent as a share; 100 %: no limit (never
/// refused for being busy).
fn busy_limit(percent: u8) -> f64 {
    match percent {
        100 => f64::INFINITY,
        p => f64::from(p) / 100.0,
    }
}

/// GStreamer and this project's elements, for the sample clip and the live
/// source.
#[cfg(feature = "gstreamer")]
fn init_gstreamer() -> Result<(), String> {
    gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}"))?;
    gstmjpegrtsp::plugin_register_static()
        .map_err(|e| format!("cannot register the mjpegrtsp elements: {e}"))
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// `PATH=URL` of `--relay`.
fn relay_mount(value: &str) -> Result<LiveMount, String> {
    let (path, url) = value
        .split_once('=')
        .ok_or("PATH=URL, e.g. door=rtsp://camera/stream")?;
    Ok(LiveMount::relay(path, url))
}
