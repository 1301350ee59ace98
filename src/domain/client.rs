//! Who is asking, as far as limits go: the client's address (how the HTTP edge finds it is its
//! business, see `http::client`).

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr},
};

/// The address limits count by: an IPv4 address, or the /64 an IPv6 address is in (a household or
/// a phone gets a whole /64, and could otherwise change address at every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(IpAddr);

impl ClientAddress {
    pub fn new(ip: IpAddr) -> ClientAddress {
        ClientAddress(match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
            v4 => v4,
        })
    }

    pub fn ip(&self) -> IpAddr {
        self.0
    }
}

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V6(prefix) => write!(f, "{prefix}/64"),
            v4 => write!(f, "{v4}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let v6: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(ClientAddress::new(v6).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(ClientAddress::new(mapped).to_string(), "203.0.113.7");
    }
}
