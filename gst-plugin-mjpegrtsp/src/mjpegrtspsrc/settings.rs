//! The element's properties: their defaults, the [`Settings`] they are kept
//! in, their param specs, and the client options they make.

use super::{DialectChoice, Protocols};
use gst::glib;
use gst::prelude::*;
use mjpegrtsp::client::{ClientOptions, DialectPreference, TlsOptions, TransportPreference};
use std::sync::LazyLock;
use std::time::Duration;

pub(super) const DEFAULT_LOCATION: Option<String> = None;
pub(super) const DEFAULT_PROTOCOLS: Protocols = Protocols::UDP.union(Protocols::TCP);
pub(super) const DEFAULT_LATENCY_MS: u32 = 30;
pub(super) const DEFAULT_USER_ID: Option<String> = None;
pub(super) const DEFAULT_USER_PW: Option<String> = None;
pub(super) const DEFAULT_TIMEOUT_S: u32 = 10;
pub(super) const DEFAULT_DIALECT: DialectChoice = DialectChoice::Auto;
pub(super) const DEFAULT_STALL_TIMEOUT_MS: u32 = 2000;
pub(super) const DEFAULT_TLS_VERIFY: bool = true;
pub(super) const DEFAULT_TLS_CA_FILE: Option<String> = None;

/// The properties' values (the `stats` property is read from the state).
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub location: Option<String>,
    pub protocols: Protocols,
    pub latency_ms: u32,
    pub user_id: Option<String>,
    pub user_pw: Option<String>,
    pub timeout_s: u32,
    pub dialect: DialectChoice,
    pub stall_timeout_ms: u32,
    pub tls_verify: bool,
    pub tls_ca_file: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: DEFAULT_LOCATION,
            protocols: DEFAULT_PROTOCOLS,
            latency_ms: DEFAULT_LATENCY_MS,
            user_id: DEFAULT_USER_ID,
            user_pw: DEFAULT_USER_PW,
            timeout_s: DEFAULT_TIMEOUT_S,
            dialect: DEFAULT_DIALECT,
            stall_timeout_ms: DEFAULT_STALL_TIMEOUT_MS,
            tls_verify: DEFAULT_TLS_VERIFY,
            tls_ca_file: DEFAULT_TLS_CA_FILE,
        }
    }
}

impl Settings {
    /// Client options for these settings (without an observer).
    pub fn client_options(&self) -> ClientOptions {
        let transport = match (
            self.protocols.contains(Protocols::UDP),
            self.protocols.contains(Protocols::TCP),
        ) {
            (true, false) => TransportPreference::Udp,
            (false, true) => TransportPreference::Tcp,
            _ => TransportPreference::Auto,
        };
        ClientOptions {
            transport,
            dialect: match self.dialect {
                DialectChoice::Auto => DialectPreference::Auto,
                DialectChoice::Standard => DialectPreference::Standard,
                DialectChoice::Classic => DialectPreference::Classic,
            },
            user: self.user_id.clone(),
            password: self.user_pw.clone(),
            timeout: Duration::from_secs(u64::from(self.timeout_s.max(1))),
            latency: Duration::from_millis(u64::from(self.latency_ms)),
            stall_after: (self.stall_timeout_ms > 0)
                .then(|| Duration::from_millis(u64::from(self.stall_timeout_ms))),
            tls: TlsOptions {
                verify: self.tls_verify,
                ca_file: self.tls_ca_file.as_ref().map(Into::into),
            },
            ..ClientOptions::default()
        }
    }

    /// Sets the property `name` from `value` (type-checked by GObject).
    pub fn set(&mut self, name: &str, value: &glib::Value) {
        const CHECKED: &str = "type checked upstream";
        match name {
            "location" => self.location = value.get().expect(CHECKED),
            "protocols" => self.protocols = value.get().expect(CHECKED),
            "latency" => self.latency_ms = value.get().expect(CHECKED),
            "user-id" => self.user_id = value.get().expect(CHECKED),
            "user-pw" => self.user_pw = value.get().expect(CHECKED),
            "timeout" => self.timeout_s = value.get().expect(CHECKED),
            "dialect" => self.dialect = value.get().expect(CHECKED),
            "stall-timeout" => self.stall_timeout_ms = value.get().expect(CHECKED),
            "tls-verify" => self.tls_verify = value.get().expect(CHECKED),
            "tls-ca-file" => self.tls_ca_file = value.get().expect(CHECKED),
            _ => unreachable!("unknown property {name}"),
        }
    }

    /// The value of the property `name`, `None` for `stats`.
    pub fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "location" => self.location.to_value(),
            "protocols" => self.protocols.to_value(),
            "latency" => self.latency_ms.to_value(),
            "user-id" => self.user_id.to_value(),
            "user-pw" => self.user_pw.to_value(),
            "timeout" => self.timeout_s.to_value(),
            "dialect" => self.dialect.to_value(),
            "stall-timeout" => self.stall_timeout_ms.to_value(),
            "tls-verify" => self.tls_verify.to_value(),
            "tls-ca-file" => self.tls_ca_file.to_value(),
            _ => return None,
        })
    }
}

/// The param specs, `stats` last.
pub(super) static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
    vec![
        glib::ParamSpecString::builder("location")
            .nick("Location")
            .blurb("RTSP URL to play: rtsp://[user:password@]host[:port]/path, or rtsps:// (TLS)")
            .default_value(DEFAULT_LOCATION.as_deref())
            .mutable_ready()
            .build(),
        glib::ParamSpecFlags::builder::<Protocols>("protocols")
            .nick("Protocols")
            .blurb("Lower transports allowed: udp, tcp, or both (UDP first, TCP when no UDP packet arrives)")
            .default_value(DEFAULT_PROTOCOLS)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("latency")
            .nick("Latency")
            .blurb("Milliseconds a missing UDP packet is waited for before its frame is given up (reordering window)")
            .maximum(10_000)
            .default_value(DEFAULT_LATENCY_MS)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("user-id")
            .nick("User ID")
            .blurb("User name for Basic or Digest authentication (overrides the URL's)")
            .default_value(DEFAULT_USER_ID.as_deref())
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("user-pw")
            .nick("User password")
            .blurb("Password for Basic or Digest authentication (overrides the URL's)")
            .default_value(DEFAULT_USER_PW.as_deref())
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("timeout")
            .nick("Timeout")
            .blurb("Seconds to wait for the connection and for each reply")
            .minimum(1)
            .maximum(3600)
            .default_value(DEFAULT_TIMEOUT_S)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("dialect", DEFAULT_DIALECT)
            .nick("Dialect")
            .blurb("RTSP dialect: auto (standard, or classic when the server ignores OPTIONS), standard or classic")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("stall-timeout")
            .nick("Stall timeout")
            .blurb("Milliseconds without media while playing before a warning says the stream stalled (0: never); an element message mjpegrtspsrc-resumed follows when media comes again")
            .maximum(600_000)
            .default_value(DEFAULT_STALL_TIMEOUT_MS)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("tls-verify")
            .nick("TLS verify")
            .blurb("For rtsps://: check the server's certificate (against tls-ca-file, else the system's roots); off only for a test server")
            .default_value(DEFAULT_TLS_VERIFY)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("tls-ca-file")
            .nick("TLS CA file")
            .blurb("For rtsps://: PEM certificates to trust instead of the system's (a test CA, or a self-signed server's certificate)")
            .default_value(DEFAULT_TLS_CA_FILE.as_deref())
            .mutable_ready()
            .build(),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(super::stats::BLURB)
            .read_only()
            .build(),
    ]
});
