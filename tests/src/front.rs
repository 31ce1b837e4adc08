//! A loopback RTSP front with a hook on every request, for tests that need a
//! server to misbehave in one precise way (demand credentials, forget a
//! session, swallow UDP) without changing the server.

use mjpegrtsp::rtsp::{Item, Parsed, Parser, Request, Response};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What an [`RtspFront`] does with each request: change it in place, or
/// answer it itself (`Some`): the server then never sees it.
pub type RequestHook = Arc<dyn Fn(&mut Request) -> Option<Response> + Send + Sync>;

/// A loopback RTSP front: forwards each client connection to `backend`,
/// passing every request through a [`RequestHook`] (to rewrite it, or to
/// answer it, e.g. with a 401 or a 454). Replies and interleaved media come
/// back whole items at a time; UDP media goes straight between server and
/// client. Stopped when dropped.
pub struct RtspFront {
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RtspFront {
    /// Listens on 127.0.0.1 at a free port.
    pub fn start(backend: SocketAddr, hook: RequestHook) -> RtspFront {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let hook = hook.clone();
                        std::thread::spawn(move || front_connection(client, backend, hook));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RtspFront {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL of `path` through the front.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{path}", self.addr)
    }
}

impl Drop for RtspFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn front_connection(client: TcpStream, backend: SocketAddr, hook: RequestHook) {
    let Ok(server) = TcpStream::connect(backend) else {
        return;
    };
    let client_w = Arc::new(Mutex::new(client.try_clone().unwrap()));
    // Server to client: whole items only, so that the hook's replies never
    // land inside an interleaved frame.
    let mut server_r = server.try_clone().unwrap();
    let to_client = client_w.clone();
    let back = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 65536];
        while let Ok(n) = server_r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Parsed::Complete(_, used) = Parser::new().parse(&buf, true) {
                if to_client.lock().unwrap().write_all(&buf[..used]).is_err() {
                    return;
                }
                buf.drain(..used);
            }
        }
        let _ = to_client.lock().unwrap().shutdown(std::net::Shutdown::Both);
    });
    let mut client_r = client;
    let mut server_w = server;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    'read: while let Ok(n) = client_r.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let (item, used) = match Parser::new().parse(&buf, true) {
                Parsed::Complete(Item::Request(req), used) => (Some(req), used),
                Parsed::Complete(_, used) => (None, used),
                _ => break,
            };
            let ok = match item {
                Some(mut req) => match hook(&mut req) {
                    Some(resp) => client_w.lock().unwrap().write_all(&resp.to_bytes()).is_ok(),
                    None => server_w.write_all(&req.to_bytes()).is_ok(),
                },
                None => server_w.write_all(&buf[..used]).is_ok(),
            };
            buf.drain(..used);
            if !ok {
                break 'read;
            }
        }
    }
    let _ = server_w.shutdown(std::net::Shutdown::Both);
    let _ = back.join();
}
