//! The server's live mounts ([`ServerConfig::live`]): each path checked,
//! then its source made and its producer started — a GStreamer pipeline
//! (feature `live`) or an on-demand relay ([`super::relay`]).

use super::config::{LiveInput, ServerConfig, StartError};
use super::engine::Commands;
use super::live::{LiveKind, LiveSource};
use super::media::Library;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The live sources by mount path, and what feeds them; relays stop when
/// this is dropped, pipelines too. Paths being published (`--publish`)
/// come and go while the server runs.
#[derive(Default)]
pub(super) struct LiveMounts {
    sources: HashMap<String, Arc<LiveSource>>,
    published: Mutex<HashMap<String, Arc<LiveSource>>>,
    next_published: AtomicU64,
    #[cfg(feature = "live")]
    _pipelines: Vec<super::live_pipeline::LivePipeline>,
    relays: Vec<tokio::task::AbortHandle>,
}

impl LiveMounts {
    /// Checks every path before anything starts, then starts each source
    /// (relays on the current Tokio runtime, waiting for viewers).
    pub(super) fn start(
        config: &ServerConfig,
        library: &Library,
        engine: &Commands,
    ) -> Result<LiveMounts, StartError> {
        let mut paths: Vec<String> = Vec::new();
        for mount in &config.live {
            let path = mount.normalized_path().ok_or_else(|| {
                StartError::LiveMount(format!(
                    "live mount path {:?}: empty, or with . or .. segments",
                    mount.path
                ))
            })?;
            if paths.contains(&path) {
                return Err(StartError::LiveMount(format!(
                    "live mount path /{path} is given twice"
                )));
            }
            match &mount.input {
                #[cfg(not(feature = "live"))]
                LiveInput::Pipeline(_) => return Err(StartError::NoLiveSupport),
                LiveInput::Relay(url) => {
                    let lower = url.to_ascii_lowercase();
                    if !lower.starts_with("rtsp://") && !lower.starts_with("rtsps://") {
                        return Err(StartError::Relay(format!(
                            "relay /{path}: {} is not an rtsp:// or rtsps:// URL",
                            crate::client::without_password(url)
                        )));
                    }
                }
                #[cfg(feature = "live")]
                LiveInput::Pipeline(_) => {}
            }
            if library.open(&path).is_ok() {
                tracing::warn!("the live source at /{path} hides the file of that path");
            }
            paths.push(path);
        }
        let mut mounts = LiveMounts::default();
        for (n, (path, mount)) in paths.into_iter().zip(&config.live).enumerate() {
            // Files count their ids up from 1: live ones from 2^63.
            let kind = match &mount.input {
                LiveInput::Pipeline(_) => LiveKind::Pipeline,
                LiveInput::Relay(url) => LiveKind::Relay {
                    upstream: crate::client::without_password(url),
                },
            };
            let source = LiveSource::new((1 << 63) | n as u64, &path, kind, engine.clone());
            match &mount.input {
                #[cfg(feature = "live")]
                LiveInput::Pipeline(launch) => mounts
                    ._pipelines
                    .push(super::live_pipeline::LivePipeline::start(launch, &source)?),
                #[cfg(not(feature = "live"))]
                LiveInput::Pipeline(_) => return Err(StartError::NoLiveSupport),
                LiveInput::Relay(url) => {
                    let mut options = crate::client::ClientOptions::default();
                    options.tls.ca_file = config.relay_ca_file.clone();
                    let task =
                        tokio::spawn(super::relay::run(source.clone(), url.clone(), options));
                    mounts.relays.push(task.abort_handle());
                }
            }
            mounts.sources.insert(path, source);
        }
        Ok(mounts)
    }

    /// The source at `path` (no slashes around): a configured one, or one
    /// being published.
    pub(super) fn get(&self, path: &str) -> Option<Arc<LiveSource>> {
        match self.sources.get(path) {
            Some(source) => Some(source.clone()),
            None => self.published.lock().unwrap().get(path).cloned(),
        }
    }

    /// A new source at `path` for a publisher, if the path is free of
    /// other live sources (why not, if it is not).
    pub(super) fn claim(
        &self,
        path: &str,
        publisher: IpAddr,
        engine: &Commands,
    ) -> Result<Arc<LiveSource>, String> {
        if self.sources.contains_key(path) {
            return Err(format!("/{path} is a --pipeline-at or --relay mount"));
        }
        let mut published = self.published.lock().unwrap();
        if published.contains_key(path) {
            return Err(format!("/{path} is being published by another client"));
        }
        // Configured sources count up from 2^63, published ones from
        // 2^63 + 2^62.
        let n = self.next_published.fetch_add(1, Ordering::Relaxed);
        let source = LiveSource::new(
            (3 << 62) | n,
            path,
            LiveKind::Published { publisher },
            engine.clone(),
        );
        published.insert(path.to_owned(), source.clone());
        Ok(source)
    }

    /// Frees `source`'s path, if it still holds it.
    pub(super) fn release(&self, source: &Arc<LiveSource>) {
        let mut published = self.published.lock().unwrap();
        if published
            .get(&source.mount)
            .is_some_and(|s| Arc::ptr_eq(s, source))
        {
            published.remove(&source.mount);
        }
    }

    /// Every live source, configured and published, by path.
    pub(super) fn all(&self) -> Vec<Arc<LiveSource>> {
        let mut all: Vec<Arc<LiveSource>> = self.sources.values().cloned().collect();
        all.extend(self.published.lock().unwrap().values().cloned());
        all.sort_by(|a, b| a.mount.cmp(&b.mount));
        all
    }

    /// Every live mount path, sorted.
    pub(super) fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.sources.keys().cloned().collect();
        paths.sort();
        paths
    }
}

impl Drop for LiveMounts {
    fn drop(&mut self) {
        for relay in &self.relays {
            relay.abort();
        }
    }
}
