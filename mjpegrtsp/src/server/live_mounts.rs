//! The server's live mounts ([`ServerConfig::live`]): each path checked,
//! then its source made and its producer started — a GStreamer pipeline
//! (feature `live`) or an on-demand relay ([`super::relay`]).

use super::config::{LiveInput, ServerConfig, StartError};
use super::engine::Command;
use super::live::LiveSource;
use super::media::Library;
use std::collections::HashMap;
use std::sync::{Arc, mpsc};

/// The live sources by mount path, and what feeds them; relays stop when
/// this is dropped, pipelines too.
#[derive(Default)]
pub(super) struct LiveMounts {
    sources: HashMap<String, Arc<LiveSource>>,
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
        engine: &mpsc::Sender<Command>,
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
            let source = LiveSource::new((1 << 63) | n as u64, &path, engine.clone());
            match &mount.input {
                #[cfg(feature = "live")]
                LiveInput::Pipeline(launch) => mounts
                    ._pipelines
                    .push(super::live_pipeline::LivePipeline::start(launch, &source)?),
                #[cfg(not(feature = "live"))]
                LiveInput::Pipeline(_) => return Err(StartError::NoLiveSupport),
                LiveInput::Relay(url) => {
                    let task = tokio::spawn(super::relay::run(
                        source.clone(),
                        url.clone(),
                        crate::client::ClientOptions::default(),
                    ));
                    mounts.relays.push(task.abort_handle());
                }
            }
            mounts.sources.insert(path, source);
        }
        Ok(mounts)
    }

    /// The source at `path` (no slashes around).
    pub(super) fn get(&self, path: &str) -> Option<&Arc<LiveSource>> {
        self.sources.get(path)
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
