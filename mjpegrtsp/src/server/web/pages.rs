//! The two HTML pages: the index (every mount with a live thumbnail, its
//! RTSP URL, size, rate, length and viewers; the server's sessions and
//! traffic) and the watch page (a mount in an `<img>`, with a status
//! line). The seed player's dark colours, no external resources, a few
//! lines of script.

use super::status::{MountInfo, mounts};
use crate::rtsp::Request;
use crate::server::engine::Source;
use crate::server::{Shared, encode_path};
use std::fmt::Write;
use std::sync::atomic::Ordering;

const STYLE: &str = r#"
:root { color-scheme: dark; }
* { box-sizing: border-box; }
body { margin: 0; background: #181818; color: #f1f1f1; font: 15px/1.4 system-ui, sans-serif; }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #212121; border-bottom: 1px solid #282828; }
header .logo { color: #FF0000; font-weight: 700; font-size: 20px; }
header .logo::before { content: "\25B6\FE0E  "; }
a { color: #3EA6FF; text-decoration: none; }
a:hover { text-decoration: underline; }
.muted { color: #aaa; }
main { padding: 24px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 20px; }
.card { background: #212121; border-radius: 12px; overflow: hidden; }
.card:hover { background: #282828; }
.thumb { display: block; width: 100%; aspect-ratio: 16 / 9; object-fit: contain; background: #000; }
.card .body { padding: 10px 14px 14px; }
.card h2 { margin: 0 0 4px; font-size: 16px; word-break: break-all; }
.badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 4px; font-size: 11px; vertical-align: middle; background: #282828; color: #aaa; text-transform: uppercase; }
.badge.live { background: #FF0000; color: #fff; }
.url { display: flex; gap: 8px; margin-top: 8px; }
.url code { flex: 1; padding: 4px 8px; background: #181818; border-radius: 6px; font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
button { background: #282828; color: #f1f1f1; border: 1px solid #3a3a3a; border-radius: 6px; padding: 3px 10px; cursor: pointer; }
button:hover { border-color: #3EA6FF; }
.player { background: #000; border-radius: 12px; overflow: hidden; max-width: 1280px; }
.player img { display: block; width: 100%; height: 70vh; object-fit: contain; }
.status { color: #aaa; margin: 8px 0; }
.status.error { color: #FF0000; }
h1 { font-size: 20px; margin: 16px 0 4px; word-break: break-all; }
"#;

/// The copy buttons, and thumbnails refreshed every two seconds (a file's
/// at the time it would be playing, a live one's latest frame; one that has
/// none yet, such as an idle relay's, stays black).
const INDEX_SCRIPT: &str = r#"
document.querySelectorAll('button[data-url]').forEach(b => b.onclick = () =>
  navigator.clipboard.writeText(b.dataset.url).then(() => { b.textContent = 'Copied'; }));
document.querySelectorAll('img.thumb').forEach(img => {
  img.onerror = () => { img.style.opacity = 0; };
  img.onload = () => { img.style.opacity = 1; };
});
setInterval(() => document.querySelectorAll('img.thumb').forEach(img => {
  const d = parseFloat(img.dataset.duration);
  img.src = img.dataset.src + (d > 0 ? '?t=' + ((Date.now() / 1000) % d).toFixed(2) : '?n=' + Date.now());
}), 2000);
"#;

/// Says whether the picture is coming, and how many watch.
const WATCH_SCRIPT: &str = r#"
const v = document.getElementById('v'), s = document.getElementById('status');
v.onload = () => { s.textContent = 'Playing'; s.className = 'status'; };
v.onerror = () => { s.textContent = 'The stream ended or cannot be played. Reload to try again.'; s.className = 'status error'; };
"#;

/// The index page.
pub(super) fn index(shared: &Shared, request: &Request, user: Option<&str>) -> String {
    let host = host_of(request, shared);
    let visible: Vec<MountInfo> = mounts(shared)
        .into_iter()
        .filter(|m| {
            shared
                .gate
                .as_ref()
                .is_none_or(|g| g.may_play(user, &m.path))
        })
        .collect();
    let sessions = shared.sessions.lock().unwrap().by_id.len();
    let engine = &shared.engine.stats;
    let sent_mb = engine.octets_sent.load(Ordering::Relaxed) as f64 / 1e6;
    let uptime = shared.stats.started.elapsed().as_secs();
    let mut page = head("mjpegrtsp");
    let _ = write!(
        page,
        "<header><span class=\"logo\">mjpegrtsp</span><span class=\"muted\">{} · {} · \
         {sent_mb:.1} MB sent · {} frames · up {}</span></header>\n\
         <main><div class=\"grid\">\n",
        count(visible.len(), "mount"),
        count(sessions, "session"),
        engine.frames_sent.load(Ordering::Relaxed),
        clock(uptime as f64)
    );
    for m in &visible {
        let path = encode_path(&m.path);
        let url = rtsp_url(shared, &host, &m.path);
        let live = m.kind != "file";
        let _ = writeln!(
            page,
            "<article class=\"card\"><a href=\"/watch/{path}\"><img class=\"thumb\" \
             src=\"/snapshot/{path}\" data-src=\"/snapshot/{path}\" data-duration=\"{}\" \
             alt=\"\" loading=\"lazy\"></a><div class=\"body\"><h2><a href=\"/watch/{path}\">{}</a>\
             <span class=\"badge{}\">{}</span></h2><div class=\"muted\">{}</div>\
             <div class=\"url\"><code>{}</code><button data-url=\"{}\">Copy</button></div>\
             </div></article>",
            m.duration_s.unwrap_or(0.0),
            escape(&m.path),
            if live { " live" } else { "" },
            m.kind,
            escape(&facts(m)),
            escape(&url),
            escape(&url),
        );
    }
    if visible.is_empty() {
        page.push_str("<p class=\"muted\">Nothing to play: no .Mjpeg under the media root, and no live mount.</p>\n");
    }
    let _ = write!(
        page,
        "</div></main>\n<script>{INDEX_SCRIPT}</script>\n</body></html>\n"
    );
    page
}

/// The page that plays `mount`.
pub(super) fn watch(shared: &Shared, request: &Request, mount: &str, source: &Source) -> String {
    let host = host_of(request, shared);
    let url = rtsp_url(shared, &host, mount);
    let path = encode_path(mount);
    let what = match source {
        Source::File(media) => format!(
            "{}×{} · {} fps · {}",
            media.info.width,
            media.info.height,
            media.rate,
            clock(media.duration_secs())
        ),
        Source::Live(live) => match live.info() {
            Some(i) => format!("{}×{} · live ({})", i.width, i.height, live.kind.label()),
            None => format!("live ({})", live.kind.label()),
        },
    };
    let mut page = head(mount);
    let _ = write!(
        page,
        "<header><span class=\"logo\">mjpegrtsp</span><a href=\"/\">All streams</a></header>\n\
         <main><div class=\"player\"><img id=\"v\" src=\"/stream/{path}\" alt=\"{}\"></div>\n\
         <h1>{}</h1><p id=\"status\" class=\"status\">Connecting…</p>\
         <p class=\"muted\">{}</p><div class=\"url\"><code>{}</code>\
         <button data-url=\"{}\" onclick=\"navigator.clipboard.writeText(this.dataset.url)\">Copy</button></div>\
         </main>\n<script>{WATCH_SCRIPT}</script>\n</body></html>\n",
        escape(mount),
        escape(mount),
        escape(&what),
        escape(&url),
        escape(&url),
    );
    page
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · mjpegrtsp</title><style>{STYLE}</style></head><body>\n",
        escape(title)
    )
}

/// "640×480 · 24 fps · 0:10 · 2 viewers".
fn facts(m: &MountInfo) -> String {
    let mut parts = Vec::new();
    if let (Some(w), Some(h)) = (m.width, m.height) {
        parts.push(format!("{w}×{h}"));
    }
    if let Some(fps) = m.fps {
        parts.push(format!("{} fps", (fps * 1000.0).round() / 1000.0));
    }
    if let Some(d) = m.duration_s {
        parts.push(clock(d));
    }
    parts.push(count(m.viewers, "viewer"));
    parts.join(" · ")
}

/// "1 viewer", "2 viewers".
fn count(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// `m:ss` or `h:mm:ss`.
fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", (s / 60) % 60, s % 60),
    }
}

/// The host the browser used (its `Host` header without the port), else
/// the address the server is bound to.
fn host_of(request: &Request, shared: &Shared) -> String {
    let from_header = request.headers.get("Host").and_then(|h| {
        let h = h.trim();
        let host = match h.strip_prefix('[') {
            Some(v6) => format!("[{}]", v6.split(']').next()?),
            None => h.rsplit_once(':').map_or(h, |(host, _)| host).to_owned(),
        };
        let ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        ok.then_some(host)
    });
    from_header.unwrap_or_else(|| crate::net::url_host(shared.config.bind))
}

/// The mount's `rtsp://` URL (`rtsps://` when only RTSPS is served).
fn rtsp_url(shared: &Shared, host: &str, mount: &str) -> String {
    match (shared.ports.rtsp, shared.ports.rtsps) {
        (Some(port), _) => format!("rtsp://{host}:{port}/{}", encode_path(mount)),
        (None, Some(port)) => format!("rtsps://{host}:{port}/{}", encode_path(mount)),
        (None, None) => String::new(),
    }
}

/// Text as HTML (element content and attribute values).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        assert_eq!(
            escape("<img src=x onerror='a'>&\""),
            "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&quot;"
        );
    }

    #[test]
    fn clock_reads_like_a_player() {
        assert_eq!(clock(10.04), "0:10");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
