//! One browser-style HTTP viewer (`http://…/stream/<mount>`): GET, then
//! `multipart/x-mixed-replace` parts read with the core's `PartReader`
//! until the window ends, then the connection closes. Counted like an RTSP
//! session: a part that is a whole JPEG is a whole frame, the time between
//! parts is a frame gap.

use super::*;
use mjpegrtsp::http::multipart::{PartReader, boundary_of};
use mjpegrtsp::rtsp::{Item, Parsed, Parser};
use tokio::io::AsyncReadExt;

pub(crate) async fn run_http_session(
    args: Rc<Args>,
    peer: Peer,
    shared: Rc<Shared>,
    start_at: Instant,
    mut stop: watch::Receiver<bool>,
) -> SessionResult {
    let mut res = SessionResult::default();
    sleep_until(start_at).await;
    let (opened, took) = shared.setting_up(args.sessions, open(&args, peer)).await;
    res.setup = Some(took);
    let (mut stream, mut parts) = match opened {
        Ok(o) => o,
        Err(e) => {
            res.failure = Some(e);
            res.setup = None;
            return res;
        }
    };
    let played_from = Instant::now();
    let mut last_part: Option<Instant> = None;
    let mut first: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let failure = loop {
        tokio::select! {
            _ = stop.changed() => break None,
            read = stream.read(&mut buf) => match read {
                Ok(0) => break Some("the server closed the stream".to_owned()),
                Err(e) => break Some(format!("read: {}", io_reason(&e))),
                Ok(n) => {
                    res.bytes += n as u64;
                    parts.push(&buf[..n]);
                    loop {
                        match parts.next_part() {
                            Ok(Some(part)) => {
                                let now = Instant::now();
                                res.packets += 1;
                                if mjpegrtsp::container::is_whole_jpeg(&part.body) {
                                    res.frames_complete += 1;
                                    first.get_or_insert(now);
                                } else {
                                    res.frames_incomplete += 1;
                                }
                                if let Some(last) = last_part
                                    && shared.in_window()
                                {
                                    shared.gaps.borrow_mut().add(now - last);
                                }
                                last_part = Some(now);
                            }
                            Ok(None) => break,
                            Err(e) => {
                                res.invalid += 1;
                                res.failure = Some(format!("multipart: {e}"));
                                return res;
                            }
                        }
                    }
                }
            },
        }
    };
    res.played = played_from.elapsed();
    let fps = args.fps.unwrap_or(24.0);
    res.expected_frames = (res.played.as_secs_f64() * fps).floor() + 1.0;
    res.first_frame = first.map(|t| t.saturating_duration_since(played_from));
    res.failure =
        failure.or_else(|| (res.frames_complete == 0).then(|| "no whole frame received".into()));
    res
}

/// Connects, asks for the stream and reads the reply's head; the parts
/// that came with it are in the reader.
async fn open(args: &Args, peer: Peer) -> Result<(TcpStream, PartReader), String> {
    let deadline = Instant::now() + args.timeout;
    let mut stream = match timeout_at(deadline, connect_from(peer)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("connect: {}", io_reason(&e))),
        Err(_) => return Err("connect: timed out".into()),
    };
    let path = args.url.splitn(4, '/').nth(3).unwrap_or_default();
    let request = format!(
        "GET /{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rtsp_load\r\n\r\n",
        peer.server
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {}", io_reason(&e)))?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if let Parsed::Complete(Item::Response(head), used) = Parser::new().parse(&buf, false) {
            if head.status.as_u16() != 200 {
                return Err(format!("GET: {} {}", head.status.as_u16(), head.reason));
            }
            let boundary = head
                .headers
                .get("Content-Type")
                .and_then(boundary_of)
                .ok_or("GET: not a multipart stream")?;
            let mut parts = PartReader::new(&boundary, 16 << 20);
            parts.push(&buf[used..]);
            return Ok((stream, parts));
        }
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => return Err("GET: closed before a reply".into()),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(format!("GET: {}", io_reason(&e))),
            Err(_) => return Err("GET: no reply in time".into()),
        }
    }
}
