//! Who may talk to the devnet: it listens on 127.0.0.1 only, and this layer refuses what a
//! web page could send there. A browser lets any page open a websocket to `127.0.0.1`; it
//! names the page in `Origin`, and a DNS-rebinding page reaches the port under a `Host` of
//! its own. So a request is served only when its `Host` is a loopback name and its `Origin`
//! (if any: programs send none) is a loopback page, as a node's `--rpc-cors` default does.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// The layer that puts [`LoopbackOnly`] in front of the RPC service.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopbackOnlyLayer;

impl<S> tower::Layer<S> for LoopbackOnlyLayer {
    type Service = LoopbackOnly<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoopbackOnly { inner }
    }
}

/// Refuses (403) a request whose `Host` or `Origin` is not loopback.
#[derive(Clone, Debug)]
pub struct LoopbackOnly<S> {
    inner: S,
}

/// Whether `host` (a `Host` header's value or an origin's authority, port optional) is a
/// loopback name: `localhost`, `127.x.y.z` or `[::1]`.
pub fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, _)) => inside,
            None => return false,
        }
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    host
                } else {
                    authority
                }
            })
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether an `Origin` header names a page on this machine (`http(s)://loopback[:port]`).
/// `null` (a sandboxed or `file://` page) is not.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !authority.contains('/')
        && is_loopback_authority(authority)
}

/// Whether the request may be served.
fn allowed<B>(request: &HttpRequest<B>) -> bool {
    let header = |name: http::header::HeaderName| {
        request
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap_or("\u{0}"))
    };
    let host_ok = header(http::header::HOST)
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .is_some_and(is_loopback_authority);
    let origin_ok = header(http::header::ORIGIN).is_none_or(is_loopback_origin);
    host_ok && origin_ok
}

impl<S, B> tower::Service<HttpRequest<B>> for LoopbackOnly<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        if allowed(&request) {
            Box::pin(self.inner.call(request))
        } else {
            Box::pin(async {
                let mut response = HttpResponse::new(HttpBody::from(
                    "this devnet serves programs and pages on this machine only (Host and Origin must be loopback)\n",
                ));
                *response.status_mut() = http::StatusCode::FORBIDDEN;
                Ok(response)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_and_pages_are_let_in() {
        for host in [
            "127.0.0.1:9944",
            "localhost:9944",
            "LOCALHOST",
            "[::1]:9944",
            "127.1.2.3",
        ] {
            assert!(is_loopback_authority(host), "{host}");
        }
        for host in [
            "evil.example:9944",
            "10.0.0.2",
            "localhost.evil.example",
            "[2001:db8::1]:1",
            "",
        ] {
            assert!(!is_loopback_authority(host), "{host}");
        }
        for origin in [
            "http://localhost:3000",
            "https://127.0.0.1",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback_origin(origin), "{origin}");
        }
        for origin in [
            "null",
            "https://evil.example",
            "http://127.0.0.1.evil.example",
            "file://",
            "chrome-extension://abc",
        ] {
            assert!(!is_loopback_origin(origin), "{origin}");
        }
    }
}
