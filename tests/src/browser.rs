//! Debian's headless Chromium driven over WebDriver (`chromedriver`, the
//! W3C protocol: JSON over HTTP), for the tests of the server's pages: load
//! a page, read an element's text and place, take screenshots (decoded to
//! RGBA for comparing).

use crate::http::request;
use mjpegrtsp::rtsp::Response;
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver with one headless Chromium session; both end when this
/// is dropped.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

/// A screenshot, decoded.
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    /// RGBA, row after row.
    pub rgba: Vec<u8>,
    /// The PNG as the browser gave it.
    pub png: Vec<u8>,
}

/// Where an element is on the page, in CSS pixels.
#[derive(Debug, Clone, Copy)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt install chromium-driver)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < until, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
        };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // A page whose <img> streams never finishes loading.
            "pageLoadStrategy": "none",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--hide-scrollbars", format!("--window-size={width},{height}")]
            }
        }}});
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.call("POST", &self.at("/url"), Some(json!({ "url": url })));
    }

    /// The element `css` selects, once there (within 10 s).
    pub fn find(&self, css: &str) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, found) = self.try_call(
                "POST",
                &self.at("/element"),
                Some(json!({"using": "css selector", "value": css})),
            );
            if status == 200 {
                return found[ELEMENT].as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < until, "no element {css}: {found}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An element's text.
    pub fn text(&self, element: &str) -> String {
        let v = self.call("GET", &self.at(&format!("/element/{element}/text")), None);
        v.as_str().unwrap_or_default().to_owned()
    }

    /// An element's place.
    pub fn rect(&self, element: &str) -> Rect {
        let v = self.call("GET", &self.at(&format!("/element/{element}/rect")), None);
        let n = |k: &str| v[k].as_f64().unwrap_or(0.0);
        Rect {
            x: n("x"),
            y: n("y"),
            width: n("width"),
            height: n("height"),
        }
    }

    /// The viewport now.
    pub fn screenshot(&self) -> Screenshot {
        let v = self.call("GET", &self.at("/screenshot"), None);
        let png = mjpegrtsp::rtsp::auth::base64_decode(v.as_str().expect("base64 PNG"))
            .expect("valid base64");
        let decoder = png::Decoder::new(std::io::Cursor::new(png.clone()));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut rgba = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgba).expect("PNG pixels");
        rgba.truncate(info.buffer_size());
        let rgba = match info.color_type {
            png::ColorType::Rgba => rgba,
            png::ColorType::Rgb => rgba
                .chunks(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            other => panic!("a {other:?} screenshot: RGB or RGBA expected"),
        };
        Screenshot {
            width: info.width,
            height: info.height,
            rgba,
            png,
        }
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    /// A WebDriver command's `value`; panics on an error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.try_call(method, path, body);
        assert_eq!(status, 200, "{method} {path}: {value}");
        value
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let reply: Response = request(self.addr, &head);
        let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        (reply.status.as_u16(), value["value"].clone())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self.try_call("DELETE", &path, None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Screenshot {
    /// The share of pixels in `rect` (CSS pixels, scaled by `scale`) that
    /// differ between `self` and `other` by more than a little.
    pub fn changed_within(&self, other: &Screenshot, rect: Rect, scale: f64) -> f64 {
        let x0 = (rect.x * scale).max(0.0) as u32;
        let y0 = (rect.y * scale).max(0.0) as u32;
        let x1 = (((rect.x + rect.width) * scale) as u32).min(self.width.min(other.width));
        let y1 = (((rect.y + rect.height) * scale) as u32).min(self.height.min(other.height));
        let (mut changed, mut all) = (0u64, 0u64);
        for y in y0..y1 {
            for x in x0..x1 {
                let at = ((y * self.width + x) * 4) as usize;
                let a = &self.rgba[at..at + 3];
                let b = &other.rgba[at..at + 3];
                all += 1;
                if a.iter().zip(b).any(|(p, q)| p.abs_diff(*q) > 24) {
                    changed += 1;
                }
            }
        }
        if all == 0 {
            0.0
        } else {
            changed as f64 / all as f64
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
