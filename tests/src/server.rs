//! This project's server in the test process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A server of this project's, in this process, on 127.0.0.1 at a free port,
/// serving `media_dir`; stopped when dropped.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    /// The RTSPS port's address, when the config asked for one.
    pub tls_addr: Option<std::net::SocketAddr>,
    /// The HTTP port's address, when the config asked for one.
    pub http_addr: Option<std::net::SocketAddr>,
    sessions: Arc<dyn Fn() -> usize + Send + Sync>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(media_dir: &Path, looping: bool) -> TestServer {
        let mut config = mjpegrtsp::server::ServerConfig::new(media_dir);
        config.looping = looping;
        Self::start_with(config)
    }

    pub fn start_with(config: mjpegrtsp::server::ServerConfig) -> TestServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = mjpegrtsp::server::Server::bind(config)
                    .await
                    .expect("server starts");
                let counter = server.session_counter();
                ready_tx
                    .send((
                        server.local_addr(),
                        server.tls_addr(),
                        server.http_addr(),
                        counter,
                    ))
                    .unwrap();
                server
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        let (addr, tls_addr, http_addr, counter) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server ready");
        TestServer {
            addr,
            tls_addr,
            http_addr,
            sessions: counter,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Sessions alive now.
    pub fn sessions(&self) -> usize {
        (self.sessions)()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A looping server of `movie.Mjpeg` and `other.Mjpeg` (160×120) that asks
/// for users: `alice`/`s3cret` may play everything, `bob`/`hunter2` only
/// `other.Mjpeg`; realm `mjpegrtsp`; `public` mounts are open to anyone.
pub fn guarded_server(public: &[&str]) -> (tempfile::TempDir, TestServer) {
    let dir = crate::movie_dir(48, 160, 120, 70, "ball");
    std::fs::copy(
        dir.path().join("movie.Mjpeg"),
        dir.path().join("other.Mjpeg"),
    )
    .unwrap();
    let mut config = mjpegrtsp::server::ServerConfig::new(dir.path());
    config.looping = true;
    config.access = Some(test_users(public));
    let server = TestServer::start_with(config);
    (dir, server)
}

/// The users of [`guarded_server`]: `alice`/`s3cret` may play everything,
/// `bob`/`hunter2` only `other.Mjpeg`; realm `mjpegrtsp`; `public` mounts
/// open to anyone.
pub fn test_users(public: &[&str]) -> mjpegrtsp::server::Access {
    use mjpegrtsp::server::users::{User, Users};
    let mut users = Users::default();
    for (name, password, mounts) in [("alice", "s3cret", "**"), ("bob", "hunter2", "other.Mjpeg")] {
        users
            .set(User::new(name, "mjpegrtsp", password, vec![mounts.into()]))
            .unwrap();
    }
    mjpegrtsp::server::Access {
        users,
        realm: "mjpegrtsp".into(),
        public: public.iter().map(|p| p.to_string()).collect(),
    }
}
