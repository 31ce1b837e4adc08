//! The session registry: every RTSP (and HTTP viewer) session by id, by
//! the address its client's RTCP comes from, and counted by client address
//! against the maximums; sessions made, ended, and reaped when their
//! timeout passes.

use super::engine::{Command, Counters, Stream};
use super::limits::{Full, Tally};
use super::{Shared, stats};
use crate::rtsp::{Dialect, generate_session_id};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every session, by id, and by the address its client's RTCP comes from.
#[derive(Default)]
pub(super) struct Sessions {
    /// By session id.
    pub(super) by_id: HashMap<String, Arc<Session>>,
    /// By the address the client's RTCP comes from (UDP sessions).
    pub(super) by_rtcp: HashMap<SocketAddr, Arc<Session>>,
    /// Sessions by client address.
    pub(super) tally: Tally,
}

/// One session: a client's stream of one file or live source.
pub(super) struct Session {
    /// Its id, as the `Session` header carries it.
    pub(super) id: String,
    /// The client's address (its control connection's).
    pub(super) client: IpAddr,
    /// Its id in the media engine, which places it on a media thread.
    pub(super) engine_id: u64,
    /// Classic (the seed's) or standard RTSP.
    pub(super) dialect: Dialect,
    /// The port it was set up through.
    pub(super) via: stats::Port,
    /// When it was made.
    pub(super) created: Instant,
    /// What the engine has sent it.
    pub(super) counters: Arc<Counters>,
    /// Where the client's RTCP comes from (UDP), to count it as activity.
    pub(super) rtcp_from: Option<SocketAddr>,
    /// Set once the session has ended and left the registry.
    pub(super) removed: AtomicBool,
    /// What changes as it is played.
    pub(super) state: Mutex<SessionState>,
}

/// A session's changing state.
pub(super) struct SessionState {
    /// PLAYING (else READY).
    pub(super) playing: bool,
    /// PLAY was answered at least once.
    pub(super) ever_played: bool,
    /// The last request or RTCP packet of its client.
    pub(super) last_activity: Instant,
    /// The connection that owns the session is still open.
    pub(super) connected: bool,
    /// Where and how the engine sends it.
    pub(super) stream: Stream,
}

impl Shared {
    /// Session `id`, if it is alive.
    pub(super) fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions.lock().unwrap().by_id.get(id).cloned()
    }

    /// Registers the session `make` builds from a fresh id for a client at
    /// `client`; why not if `--max-sessions` are alive, or the address holds
    /// its maximum.
    pub(super) fn add_session(
        &self,
        client: IpAddr,
        make: impl FnOnce(String) -> Session,
    ) -> Result<Arc<Session>, Full> {
        let mut sessions = self.sessions.lock().unwrap();
        sessions
            .tally
            .take(
                client,
                self.config.max_sessions,
                self.config.max_sessions_per_address,
            )
            .inspect_err(|full| self.stats.refused(stats::Refusal::of_full(*full, true)))?;
        let id = loop {
            let id = generate_session_id();
            if !sessions.by_id.contains_key(&id) {
                break id;
            }
        };
        let session = Arc::new(make(id));
        if let Some(from) = session.rtcp_from {
            sessions.by_rtcp.insert(from, session.clone());
        }
        sessions.by_id.insert(session.id.clone(), session.clone());
        Ok(session)
    }

    /// Ends session `id`; with `bye`, the engine first tells the client
    /// with an RTCP BYE.
    pub(super) fn remove_session(&self, id: &str, why: &str, bye: bool) {
        let session = {
            let mut sessions = self.sessions.lock().unwrap();
            let Some(session) = sessions.by_id.remove(id) else {
                return;
            };
            sessions.tally.give_back(session.client);
            if let Some(from) = session.rtcp_from
                && sessions
                    .by_rtcp
                    .get(&from)
                    .is_some_and(|s| Arc::ptr_eq(s, &session))
            {
                sessions.by_rtcp.remove(&from);
            }
            session
        };
        session.removed.store(true, Ordering::Relaxed);
        self.engine.send(Command::Stop {
            id: session.engine_id,
            done: None,
            bye,
        });
        tracing::info!(session = %id, "session ended: {why}");
    }

    /// Ends every session playing live source `source`, each with an RTCP
    /// BYE.
    pub(super) fn end_sessions_of(&self, source: u64, why: &str) {
        let ids: Vec<String> = self
            .sessions
            .lock()
            .unwrap()
            .by_id
            .values()
            .filter(|s| s.state.lock().unwrap().stream.source.id() == source)
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            self.remove_session(&id, why, true);
        }
    }
}

/// Ends sessions whose timeout passed without a request or RTCP. Classic
/// clients send neither: once they have played, their session lives as long
/// as their connection; one never played ends like any other.
pub(super) async fn reap_sessions(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let timeout = shared.config.session_timeout;
        let expired: Vec<String> = shared
            .sessions
            .lock()
            .unwrap()
            .by_id
            .values()
            .filter(|s| {
                let st = s.state.lock().unwrap();
                let classic_alive = s.dialect == Dialect::Classic && st.connected && st.ever_played;
                // An HTTP viewer's session lives as long as its connection.
                let http_alive = s.via == stats::Port::Http && st.connected;
                !classic_alive && !http_alive && st.last_activity.elapsed() > timeout
            })
            .map(|s| s.id.clone())
            .collect();
        for id in expired {
            shared.remove_session(&id, "timed out", false);
        }
    }
}
