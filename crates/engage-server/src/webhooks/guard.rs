//! The SSRF guard: a webhook URL names a host anyone with an account's key can choose,
//! and the server, inside its network, would call it. By default no delivery goes to a
//! loopback, private, link-local, shared, multicast or otherwise non-public address,
//! checked when the endpoint is registered and again at every delivery, after DNS
//! resolution ([`GuardedResolver`]), so a name that later resolves somewhere private
//! (DNS rebinding) is refused too. `--allow-private-webhooks` lifts it (tests,
//! intranets).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Whether `ip` is an address on the public internet (IANA's special-purpose registries
/// list what is not).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                // 64:ff9b::/96 NAT64 and ::/96 IPv4-compatible reach IPv4 behind them
                || (s[0] == 0x0064 && s[1] == 0xff9b)
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10 shared address space (carrier-grade NAT)
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24 protocol assignments, 198.18.0.0/15 benchmarking, 240.0.0.0/4
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

/// Checks a webhook URL as written: `http` or `https`, a host, no user or password, at
/// most `max_chars`; with the guard on, a literal IP address must be public and a name
/// must not be `localhost`. Names are checked again when they resolve.
pub fn check_url(text: &str, allow_private: bool, max_chars: usize) -> Result<Url, String> {
    if text.chars().count() > max_chars {
        return Err(format!("at most {max_chars} characters"));
    }
    // The URL parser would take these into a path or fragment (escaped, or as they are).
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "a URL holds no spaces or control characters: found {c:?} (percent-encode it)"
        ));
    }
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "the scheme must be http or https, found `{}`",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no user or password in the URL: the signature authenticates".into());
    }
    let Some(host) = url.host() else {
        return Err("the URL has no host".into());
    };
    // A name is resolved by DNS: letters, digits and hyphens between its dots (the URL
    // parser has already lowercased it and written an international name as `xn--`).
    if let url::Host::Domain(name) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !name.trim_end_matches('.').split('.').all(label_ok) {
            return Err(format!(
                "`{name}` is not a host name: letters, digits and hyphens between dots"
            ));
        }
    }
    if !allow_private {
        let refused = match host {
            url::Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        if refused {
            return Err(format!(
                "`{host}` is a loopback, private or link-local address; webhooks go to public addresses (a server started with --allow-private-webhooks allows it)"
            ));
        }
    }
    Ok(url)
}

/// Resolves names with the system's resolver and keeps only public addresses (all of
/// them when private ones are allowed); a name with none left fails to resolve, so the
/// delivery fails with the reason instead of connecting.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                let why: Box<dyn std::error::Error + Send + Sync> = if found.is_empty() {
                    format!("`{host}` does not resolve").into()
                } else {
                    format!("`{host}` resolves only to loopback, private or link-local addresses")
                        .into()
                };
                return Err(why);
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver as reqwest takes it.
pub fn resolver(allow_private: bool) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver { allow_private })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_as_written() {
        assert!(check_url("https://hooks.example/in", false, 2048).is_ok());
        assert!(check_url("https://bücher.example/in", false, 2048).is_ok());
        for bad in [
            "ftp://hooks.example/",
            "https://user:pw@hooks.example/",
            "http://127.0.0.1:9000/",
            "http://[::1]/",
            "http://localhost/",
            "http://api.localhost./x",
            "http://169.254.169.254/latest/meta-data",
            "HTTP://A.A*",
            "https://-hooks.example/",
            "https://hooks.example/a b",
            "https://hooks.example/in#G\u{15} *",
            "https://hooks.example/in?q=\t",
            "not a url",
        ] {
            assert!(check_url(bad, false, 2048).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000/", true, 2048).is_ok());
        assert!(check_url(
            &format!("https://a.example/{}", "x".repeat(3000)),
            true,
            2048
        )
        .is_err());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_unless_allowed() {
        let name = || -> Name { "localhost".parse().unwrap() };
        assert!(GuardedResolver {
            allow_private: false
        }
        .resolve(name())
        .await
        .is_err());
        let found: Vec<SocketAddr> = GuardedResolver {
            allow_private: true,
        }
        .resolve(name())
        .await
        .unwrap()
        .collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty());
    }
}
