//! The client and server ports in a `Transport` header value, read and
//! rewritten as the proxy puts itself in the UDP path.

/// The `key=a[-b]` parameter of a Transport header value (the first one).
pub fn transport_ports(value: &str, key: &str) -> Option<(u16, Option<u16>)> {
    let needle = format!("{key}=");
    let at = value.find(&needle)? + needle.len();
    let rest = &value[at..];
    let end = rest.find([';', ',']).unwrap_or(rest.len());
    let (a, b) = match rest[..end].split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (&rest[..end], None),
    };
    let a = a.trim().parse().ok()?;
    let b = match b {
        Some(b) => Some(b.trim().parse().ok()?),
        None => None,
    };
    Some((a, b))
}

/// `value` with every `key=…` parameter replaced by `key=rtp-rtcp`.
pub fn replace_transport_ports(value: &str, key: &str, rtp: u16, rtcp: u16) -> String {
    let needle = format!("{key}=");
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(&needle) {
        out.push_str(&rest[..at]);
        out.push_str(&format!("{needle}{rtp}-{rtcp}"));
        let after = &rest[at + needle.len()..];
        let end = after.find([';', ',']).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_and_replaced() {
        let t = "RTP/AVP;unicast;client_port=5000-5001;server_port=6000";
        assert_eq!(transport_ports(t, "client_port"), Some((5000, Some(5001))));
        assert_eq!(transport_ports(t, "server_port"), Some((6000, None)));
        assert_eq!(
            replace_transport_ports(t, "client_port", 7000, 7001),
            "RTP/AVP;unicast;client_port=7000-7001;server_port=6000"
        );
    }
}
