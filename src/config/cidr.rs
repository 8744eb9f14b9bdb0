//! CIDR blocks for `server.trusted_proxies` (`"10.0.0.0/8"`, `"::1/128"`, or a bare address).
//!
//! Only containment is needed, so this is a prefix comparison on the address bits; an
//! IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`) is compared as the IPv4 address it carries.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// An address block: the network address and the number of leading bits that must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// Whether `addr` lies inside this block.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                prefix_matches(&net.octets(), &a.octets(), self.prefix_len)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix_matches(&net.octets(), &a.octets(), self.prefix_len)
            }
            _ => false,
        }
    }
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn prefix_matches(network: &[u8], addr: &[u8], prefix_len: u8) -> bool {
    let full_bytes = usize::from(prefix_len / 8);
    let rest_bits = prefix_len % 8;
    if network[..full_bytes] != addr[..full_bytes] {
        return false;
    }
    if rest_bits == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest_bits);
    network[full_bytes] & mask == addr[full_bytes] & mask
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("invalid CIDR {text:?}: expected e.g. \"10.0.0.0/8\" or \"::1\"");
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let network = canonical(IpAddr::from_str(addr_text).map_err(|_| invalid())?);
        let max_len = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len_text {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max_len)
                .ok_or_else(invalid)?,
            None => max_len,
        };
        Ok(Cidr {
            network,
            prefix_len,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ipv4_block_contains_its_addresses_only() {
        let cidr: Cidr = "10.1.0.0/16".parse().expect("valid");
        assert!(cidr.contains(ip("10.1.200.3")));
        assert!(!cidr.contains(ip("10.2.0.1")));
        assert!(!cidr.contains(ip("::1")));
    }

    #[test]
    fn odd_prefix_lengths_mask_partial_bytes() {
        let cidr: Cidr = "192.168.0.0/23".parse().expect("valid");
        assert!(cidr.contains(ip("192.168.1.255")));
        assert!(!cidr.contains(ip("192.168.2.0")));
    }

    #[test]
    fn bare_address_is_a_single_host() {
        let cidr: Cidr = "127.0.0.1".parse().expect("valid");
        assert!(cidr.contains(ip("127.0.0.1")));
        assert!(!cidr.contains(ip("127.0.0.2")));
    }

    #[test]
    fn ipv4_mapped_peer_matches_ipv4_block() {
        let cidr: Cidr = "127.0.0.0/8".parse().expect("valid");
        assert!(cidr.contains(ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn ipv6_block_works_and_zero_prefix_matches_all() {
        let cidr: Cidr = "fd00::/8".parse().expect("valid");
        assert!(cidr.contains(ip("fd12::1")));
        assert!(!cidr.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("8.8.8.8")));
    }

    #[test]
    fn malformed_cidrs_are_rejected() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "x/8",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }
}
