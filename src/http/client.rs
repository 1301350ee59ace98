//! Who is asking, as far as limits go: the client's address.
//!
//! It is the connection's peer unless `server.client_address_header` names the header a reverse
//! proxy in front of us sets (`X-Forwarded-For`, `X-Real-IP`): then the last address in that
//! header, the one the proxy itself appended. A client can put anything in such a header, so it
//! is read only when configured: without a proxy it would let anyone pick their address.

use std::{
    future::{Ready, ready},
    net::{IpAddr, Ipv4Addr},
};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header::HeaderName, web};

use super::AppState;
pub use crate::domain::client::ClientAddress;

/// The client address of a request, by the rules above.
pub fn client_address(req: &HttpRequest, header: Option<&HeaderName>) -> ClientAddress {
    let forwarded = header
        .and_then(|name| req.headers().get(name))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok());
    let peer = req.peer_addr().map(|addr| addr.ip());
    ClientAddress::new(
        forwarded
            .or(peer)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    )
}

impl FromRequest for ClientAddress {
    type Error = actix_web::Error;
    type Future = Ready<Result<ClientAddress, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req
            .app_data::<web::Data<AppState>>()
            .and_then(|state| state.limits.client_address_header());
        ready(Ok(client_address(req, header)))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_forwarding_header_counts_only_when_configured_and_only_its_last_address() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.5:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.1, 203.0.113.7"))
            .to_http_request();
        assert_eq!(client_address(&req, None).to_string(), "10.0.0.5");
        let header = HeaderName::from_static("x-forwarded-for");
        assert_eq!(
            client_address(&req, Some(&header)).to_string(),
            "203.0.113.7"
        );
        let garbage = TestRequest::default()
            .peer_addr("10.0.0.5:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "not an address"))
            .to_http_request();
        assert_eq!(
            client_address(&garbage, Some(&header)).to_string(),
            "10.0.0.5"
        );
    }
}
