//! Who the client is: the socket peer, unless the peer is one of the `trusted_proxies`
//! (a load balancer), whose `X-Forwarded-For` then names the client. A client can write
//! anything into that header, so only the hops that trusted proxies appended are believed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Parses `trusted_proxies` entries: `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("trusted_proxies: {entry:?} is not an IP address or CIDR range")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|nets| Self(nets.into()))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request that arrived from `peer`: `peer` itself unless it is
    /// trusted; else, walking `X-Forwarded-For` from the right (the hop the nearest proxy
    /// appended), the first address that is not a trusted proxy. A hop that does not parse
    /// ends the walk at the last address believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Some(address) = parse_hop(hop) else {
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

/// The client address of a request as the limits count it (see `TrustedProxies::client`),
/// an IPv6 client by its /64 (what one subscriber gets, and can hop around in); `None`
/// without a peer.
pub fn client_address(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let proxies = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|state| state.trusted_proxies.clone())
        .unwrap_or_default();
    Some(counted_as(proxies.client(peer, req.headers())))
}

fn counted_as(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static(FORWARDED_FOR),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_trusted_peers_are_believed() {
        let none = TrustedProxies::default();
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(none.client(ip("198.51.100.1"), &forged), ip("198.51.100.1"));

        let balancer = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.1".into()]).unwrap();
        // Not from the balancer: the header is the client's own words.
        assert_eq!(
            balancer.client(ip("198.51.100.1"), &forged),
            ip("198.51.100.1")
        );
        // From the balancer: the hop it appended, however much the client wrote before it.
        let chain = headers(&["1.1.1.1, 203.0.113.9"]);
        assert_eq!(balancer.client(ip("10.1.2.3"), &chain), ip("203.0.113.9"));
        // Through two trusted hops, in one header or several.
        let two = headers(&["1.1.1.1, 203.0.113.9", "192.0.2.1"]);
        assert_eq!(balancer.client(ip("10.1.2.3"), &two), ip("203.0.113.9"));
        // No header, or nothing readable: the proxy itself.
        assert_eq!(
            balancer.client(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        assert_eq!(
            balancer.client(ip("10.1.2.3"), &headers(&["junk"])),
            ip("10.1.2.3")
        );
        // IPv4 peers seen as IPv6-mapped, and hops with ports.
        assert_eq!(
            balancer.client(ip("::ffff:10.1.2.3"), &headers(&["203.0.113.9:5555"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_ipv6_client_counts_by_its_prefix() {
        assert_eq!(counted_as(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(counted_as(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn entries_must_be_addresses_or_ranges() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["lb.example".into()]).is_err());
        assert!(TrustedProxies::parse(&["::1".into(), "fd00::/8".into()]).is_ok());
    }
}
