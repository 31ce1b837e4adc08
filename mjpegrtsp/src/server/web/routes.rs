//! What each HTTP path is, who may have it, and the errors:
//!
//! | Path | What |
//! |---|---|
//! | `/` | the index page |
//! | `/watch/<mount>` | a page playing the mount |
//! | `/stream/<mount>[?t=SECONDS]` | MJPEG over HTTP |
//! | `/snapshot/<mount>[?t=SECONDS]` | one JPEG |
//! | `/metrics` | Prometheus text exposition |
//! | `/api/v1/status` | JSON: mounts and sessions |
//!
//! A mount's path is the one in its `rtsp://` URL; paths cannot leave the
//! media root (the RTSP side's rules). With users configured, every path
//! asks for credentials (Digest, as RTSP in clear), and a mount's pages
//! and media need a user who may play it.

use super::{Handled, metrics, pages, status, stream, text};
use crate::rtsp::{Request, RequestUri, Response, StatusCode};
use crate::server::Shared;
use crate::server::engine::Source;
use crate::server::media::MediaError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A request's answer.
pub(super) fn handle(
    shared: &Arc<Shared>,
    request: &Request,
    peer: SocketAddr,
    tx: &super::Outgoing,
    viewer_id: Option<u64>,
) -> Handled {
    match answer(shared, request, peer, tx, viewer_id) {
        Ok(handled) => handled,
        Err(Refused::Denied(denied)) => Handled::Reply(
            denied
                .response(request)
                .with_body("text/plain; charset=utf-8", "authentication required\n"),
        ),
        Err(Refused::Status(status, why)) => {
            tracing::info!(%peer, uri = %request.uri, "HTTP {}: {why}", status.as_u16());
            let mut r = text(status, &why);
            if status == StatusCode::METHOD_NOT_ALLOWED {
                r = r.with_header("Allow", "GET, HEAD");
            }
            if status == StatusCode::SERVICE_UNAVAILABLE {
                r = r.with_header("Retry-After", "5");
            }
            Handled::Reply(r)
        }
    }
}

/// Why a request gets no page.
pub(super) enum Refused {
    /// A status, and why (for the log and the body).
    Status(StatusCode, String),
    /// The users' gate said no (401 with its challenges, 403, 503).
    Denied(crate::server::auth::Denied),
}

impl From<(StatusCode, String)> for Refused {
    fn from((status, why): (StatusCode, String)) -> Self {
        Refused::Status(status, why)
    }
}

fn answer(
    shared: &Arc<Shared>,
    request: &Request,
    peer: SocketAddr,
    tx: &super::Outgoing,
    viewer_id: Option<u64>,
) -> Result<Handled, Refused> {
    if request.version.protocol != crate::rtsp::Protocol::Http {
        let hint = match shared.ports.rtsp {
            Some(port) => format!("this is the HTTP port; RTSP is on port {port}"),
            None => "this is the HTTP port".to_owned(),
        };
        return Err((StatusCode::BAD_REQUEST, hint).into());
    }
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} is not served here: GET or HEAD",
                request.method.as_str()
            ),
        )
            .into());
    }
    let uri = RequestUri::parse(&request.uri)
        .map_err(|e| Refused::from((StatusCode::NOT_FOUND, format!("{}: {e}", request.uri))))?;
    let segments = uri.segments();
    let (page, mount) = match segments.split_first() {
        None => ("", None),
        Some((first, rest)) => (first.as_str(), Some(rest.join("/"))),
    };
    let mount = mount.filter(|m| !m.is_empty());
    let needs_mount = matches!(page, "watch" | "stream" | "snapshot");
    if needs_mount && mount.is_none() {
        let why = format!("/{page}/ needs a mount: /{page}/<mount>");
        return Err((StatusCode::NOT_FOUND, why).into());
    }
    let user = check_access(
        shared,
        request,
        peer,
        mount.as_deref().filter(|_| needs_mount),
    )?;
    let t = seconds(uri.query())?;
    let reply = |r: Response| Ok(Handled::Reply(r));
    match (page, segments.len()) {
        ("", 0) => reply(html(pages::index(shared, request, user.as_deref()))),
        ("metrics", 1) => reply(Response::new(StatusCode::OK).with_body(
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(shared),
        )),
        ("api", 3) if segments[1] == "v1" && segments[2] == "status" => reply(
            Response::new(StatusCode::OK).with_body("application/json", status::render(shared)),
        ),
        ("watch", _) => {
            let mount = mount.unwrap_or_default();
            let source = source(shared, &mount)?;
            reply(html(pages::watch(shared, request, &mount, &source)))
        }
        ("snapshot", _) => {
            let source = source(shared, &mount.unwrap_or_default())?;
            let jpeg = stream::snapshot(&source, t)?;
            reply(Response::new(StatusCode::OK).with_body("image/jpeg", jpeg))
        }
        ("stream", _) => {
            let source = source(shared, &mount.unwrap_or_default())?;
            let id = viewer_id.unwrap_or_else(|| shared.new_engine_id());
            let viewer = stream::Viewer::start(shared, source, t, peer, tx, id)?;
            let head = Response::new(StatusCode::OK)
                .with_header("Content-Type", crate::http::multipart::CONTENT_TYPE)
                .with_header("Cache-Control", "no-store");
            Ok(Handled::Stream(head, viewer))
        }
        _ => Err((StatusCode::NOT_FOUND, format!("nothing at {}", request.uri)).into()),
    }
}

/// With users configured: the user the request authenticates as (`None`
/// for a public mount), or its refusal. `mount`: the mount it plays, if it
/// plays one (else authentication only).
fn check_access(
    shared: &Shared,
    request: &Request,
    peer: SocketAddr,
    mount: Option<&str>,
) -> Result<Option<String>, Refused> {
    let Some(gate) = shared.gate.as_ref() else {
        return Ok(None);
    };
    // Pages that play nothing are open to every user, and to no one else.
    match gate.check(request, mount, peer.ip(), false, false, Instant::now()) {
        Ok(user) => Ok(user),
        Err(denied) => {
            tracing::info!(%peer, uri = %request.uri, "HTTP {}: {}", denied.status.as_u16(), denied.why);
            shared.stats.refused(denied.refusal());
            Err(Refused::Denied(denied))
        }
    }
}

/// `t=SECONDS` from the query, if given (a number ≥ 0).
fn seconds(query: Option<&str>) -> Result<Option<f64>, Refused> {
    let Some(value) = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|p| p.strip_prefix("t="))
    else {
        return Ok(None);
    };
    value
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(Some)
        .ok_or_else(|| {
            Refused::from((
                StatusCode::BAD_REQUEST,
                format!("t={value}: seconds from the start, a number ≥ 0"),
            ))
        })
}

/// The source at `mount`, or 404/415/500.
fn source(shared: &Shared, mount: &str) -> Result<Source, Refused> {
    shared.source(mount).map_err(|e| {
        let status = match e {
            MediaError::NotFound(_) => StatusCode::NOT_FOUND,
            MediaError::Unplayable(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            MediaError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Refused::Status(status, e.to_string())
    })
}

fn html(body: String) -> Response {
    Response::new(StatusCode::OK)
        .with_body("text/html; charset=utf-8", body)
        .with_header("Cache-Control", "no-store")
}
