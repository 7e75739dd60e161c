//! Where clients reach this server: the host the Domain API answers and the History
//! API's links name (`--public-url`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::Uri;

/// Where clients call this server: `host[:port]` as LivePerson's Domain API writes a
/// `baseURI` (without a scheme or a path), and the scheme for absolute links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicHost {
    scheme: &'static str,
    authority: String,
    /// Given by the operator (`--public-url`), not guessed from the listen address.
    configured: bool,
}

impl PublicHost {
    /// Reads `--public-url`: an `http` or `https` URL with a host, and nothing after it
    /// but an optional `/`. A path, a query or credentials are refused rather than
    /// dropped: a `baseURI` is a host, so clients would silently lose them.
    pub fn from_url(url: &str) -> Result<PublicHost, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid public URL `{url}`: {e}"))?;
        let scheme = match uri.scheme_str() {
            Some("http") => "http",
            Some("https") => "https",
            _ => {
                return Err(format!(
                    "invalid public URL `{url}`: it must start with http:// or https://"
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("invalid public URL `{url}`: it has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "invalid public URL `{url}`: it must not carry a user or password"
            ));
        }
        if authority.host().is_empty() {
            return Err(format!("invalid public URL `{url}`: it has no host"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "invalid public URL `{url}`: give only the scheme and host[:port]; Engage's routes are at the root"
            ));
        }
        Ok(PublicHost {
            scheme,
            authority: authority.as_str().to_owned(),
            configured: true,
        })
    }

    /// The address a listener is bound to, as a client on this machine reaches it: an
    /// unspecified address (`0.0.0.0`, `::`) is not one a client can call, so it
    /// becomes the loopback address of its family.
    pub fn from_listen(address: SocketAddr) -> PublicHost {
        let ip = match address.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        PublicHost {
            scheme: "http",
            authority: SocketAddr::new(ip, address.port()).to_string(),
            configured: false,
        }
    }

    /// `host[:port]`.
    /// Whether clients reach the server over https (the console's cookies are then
    /// `Secure`).
    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    pub fn as_str(&self) -> &str {
        &self.authority
    }

    /// `scheme://host[:port]` when the operator gave it with `--public-url`; `None` when
    /// it was only guessed from the listen address (a proxy in front may be reached
    /// under another name, so links then follow the request).
    pub fn configured_origin(&self) -> Option<String> {
        self.configured
            .then(|| format!("{}://{}", self.scheme, self.authority))
    }
}

impl Default for PublicHost {
    /// `engage serve`'s default listen address.
    fn default() -> Self {
        PublicHost::from_listen(SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_host_and_port() {
        for (url, host) in [
            ("https://engage.example", "engage.example"),
            ("https://engage.example/", "engage.example"),
            ("http://engage.example:8080", "engage.example:8080"),
            ("http://[::1]:9000/", "[::1]:9000"),
            ("http://10.0.0.5:80", "10.0.0.5:80"),
        ] {
            assert_eq!(PublicHost::from_url(url).unwrap().as_str(), host, "{url}");
        }
        assert_eq!(
            PublicHost::from_url("https://engage.example:8443/")
                .unwrap()
                .configured_origin()
                .as_deref(),
            Some("https://engage.example:8443")
        );
    }

    #[test]
    fn what_is_not_an_http_url_of_a_host_is_refused() {
        for url in [
            "",
            "engage.example",
            "engage.example:8080",
            "ftp://engage.example",
            "https://",
            "https://user:secret@engage.example",
            "https://engage.example/engage",
            "https://engage.example/?a=b",
            "https://engage example",
        ] {
            assert!(PublicHost::from_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn an_unspecified_listen_address_is_reached_on_loopback() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:8080", "[::1]:8080"),
            ("192.168.1.2:80", "192.168.1.2:80"),
        ];
        for (listen, host) in cases {
            let address: SocketAddr = listen.parse().unwrap();
            assert_eq!(PublicHost::from_listen(address).as_str(), host);
        }
        assert_eq!(PublicHost::default().as_str(), "127.0.0.1:8080");
        assert_eq!(PublicHost::default().configured_origin(), None);
    }
}
