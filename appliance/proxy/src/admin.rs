//! The admin listener: health and Prometheus metrics. Never served on the proxy listener.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::metrics::Metrics;

pub struct AdminApp {
    pub metrics: Arc<Metrics>,
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(body)
        .unwrap_or_else(|_| http::Response::new(Vec::new()))
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let req = session.req_header();
        match (req.method.as_str(), req.uri.path()) {
            ("GET", "/healthz") => reply(200, "application/json", br#"{"status":"ok"}"#.to_vec()),
            ("GET", "/metrics") => reply(200, "text/plain; version=0.0.4", self.metrics.render()),
            (_, "/healthz" | "/metrics") => reply(
                405,
                "application/json",
                br#"{"error":"method not allowed"}"#.to_vec(),
            ),
            _ => reply(
                404,
                "application/json",
                br#"{"error":"not found","endpoints":["/healthz","/metrics"]}"#.to_vec(),
            ),
        }
    }
}
