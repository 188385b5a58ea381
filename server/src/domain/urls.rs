//! URLs from integrators: the webhook target (SSRF-guarded) and the user redirects.

use std::net::IpAddr;

use url::Url;

use super::FieldError;

pub const SESSION_ID_PLACEHOLDER: &str = "{{sessionId}}";
const MAX_URL_LEN: usize = 2048;

fn parse_http_url(raw: &str, field: &'static str) -> Result<Url, FieldError> {
    if raw.len() > MAX_URL_LEN {
        return Err(FieldError::new("invalid_url", format!("{field} is longer than {MAX_URL_LEN} characters")));
    }
    let url =
        Url::parse(raw).map_err(|e| FieldError::new("invalid_url", format!("{field} is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(FieldError::new("invalid_url", format!("{field} must be an http(s) URL")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::new("invalid_url", format!("{field} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new("invalid_url", format!("{field} must not carry credentials")));
    }
    Ok(url)
}

/// Where the user's browser goes after the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl(Url);

impl RedirectUrl {
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, FieldError> {
        parse_http_url(raw, field).map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The merchant's webhook URL template: `{{sessionId}}` is replaced when sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    template: String,
    /// The template with a sample session id, parsed: what every target looks like.
    sample: Url,
}

impl WebhookUrl {
    /// Parses the template and checks it lies under `base`, the merchant's registered
    /// webhook base (same scheme, host and port; path under the base's path).
    pub fn parse_under(raw: &str, base: &str) -> Result<Self, FieldError> {
        let sample = parse_http_url(
            &raw.replace(SESSION_ID_PLACEHOLDER, "00000000-0000-0000-0000-000000000000"),
            "backend_url",
        )?;
        let base =
            Url::parse(base).map_err(|_| FieldError::new("invalid_url", "the merchant's webhook base is invalid"))?;
        if !is_under(&sample, &base) {
            return Err(FieldError::new(
                "backend_url_not_allowed",
                format!("backend_url must lie under the merchant's registered webhook base {base}"),
            ));
        }
        Ok(Self { template: raw.to_string(), sample })
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    /// Host name or IP literal, without IPv6 brackets (ready for a resolver).
    pub fn host(&self) -> &str {
        self.sample.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']')
    }

    pub fn port(&self) -> u16 {
        self.sample.port_or_known_default().unwrap_or(443)
    }

    /// The concrete URL for one session.
    pub fn for_session(&self, session_id: &str) -> String {
        Self::fill(&self.template, session_id)
    }

    /// Fills a stored (already validated) template.
    pub fn fill(template: &str, session_id: &str) -> String {
        template.replace(SESSION_ID_PLACEHOLDER, session_id)
    }
}

fn is_under(url: &Url, base: &Url) -> bool {
    if url.scheme() != base.scheme()
        || url.host_str().map(str::to_ascii_lowercase) != base.host_str().map(str::to_ascii_lowercase)
        || url.port_or_known_default() != base.port_or_known_default()
    {
        return false;
    }
    let base_path = base.path().trim_end_matches('/');
    let path = url.path();
    // Segment boundary: base /hooks admits /hooks and /hooks/x but not /hooksevil.
    path == base_path || path.starts_with(&format!("{base_path}/")) || base_path.is_empty()
}

/// Loopback, private, link-local, CGNAT, unique-local, multicast and unspecified addresses:
/// targets a webhook must not reach unless the operator allows it.
pub fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_address(IpAddr::V4(v4));
            }
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link local fe80::/10
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://api.client.example/webhook";

    #[test]
    fn seed_backend_url_is_accepted() {
        let w = WebhookUrl::parse_under("https://api.client.example/webhook/{{sessionId}}", BASE).unwrap();
        assert_eq!(w.for_session("abc"), "https://api.client.example/webhook/abc");
    }

    #[test]
    fn urls_outside_the_base_are_refused() {
        for bad in [
            "https://evil.example/webhook/{{sessionId}}",
            "http://api.client.example/webhook/x",
            "https://api.client.example:8443/webhook/x",
            "https://api.client.example/webhookevil/x",
            "https://api.client.example/other",
        ] {
            assert_eq!(WebhookUrl::parse_under(bad, BASE).unwrap_err().code, "backend_url_not_allowed", "{bad}");
        }
        assert_eq!(WebhookUrl::parse_under("not a url", BASE).unwrap_err().code, "invalid_url");
        assert_eq!(WebhookUrl::parse_under("ftp://api.client.example/webhook", BASE).unwrap_err().code, "invalid_url");
        assert_eq!(
            WebhookUrl::parse_under("https://u:p@api.client.example/webhook", BASE).unwrap_err().code,
            "invalid_url"
        );
    }

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            assert!(is_internal_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(!is_internal_address(ip.parse().unwrap()), "{ip}");
        }
    }
}
