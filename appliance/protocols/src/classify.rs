//! The classification table: what every request is, and so whether it gets a decision.
//!
//! The rule the table keeps (AARM R1, complete mediation): **every request that carries a body,
//! changes state or upgrades is an action**, and gets a decision and a receipt. Being an
//! observation as well (an LLM conversation, an MCP session message) never replaces the decision.
//! Only a bodiless read (`GET`, `HEAD`, `OPTIONS`, `TRACE`, no body, no upgrade) to a host no
//! policy watches passes without one.
//!
//! | request (first row that matches)                                   | class          | what happens |
//! |--------------------------------------------------------------------|----------------|--------------|
//! | `Upgrade` header (WebSocket and any other protocol switch)         | `Upgrade`      | action `upgrade` (REST), decided before the upstream sees it |
//! | a declared SQL endpoint                                            | `Sql`          | SQL action; a request without a statement is a REST action |
//! | `POST …/chat/completions`, `…/responses`, `…/messages` + `anthropic-version` | `Llm` | action `llm.<provider>` / `request` on the whole body; the conversation is observed once allowed; proposed tool calls in the response are actions |
//! | a host in the bundle's `read_action_hosts`                         | `Action`       | REST action, reads included |
//! | a body, or a method other than `GET`/`HEAD`/`OPTIONS`/`TRACE`       | `Action`       | the body decides: JSON-RPC ⇒ one MCP action per message; anything else ⇒ REST action |
//! | anything else (a bodiless read)                                    | `BodilessRead` | forwarded, no decision |
//!
//! Bodies are read by [`crate::body`]: a body aarmor cannot read the way its server may is
//! refused (415), never read as something weaker.

use aarmor_core::RequestHead;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::{BodyRead, Uninspectable};
use crate::llm::{DenyTemplate, LlmDialect};
use crate::mcp::{self, McpRequest};
use crate::meta::{default_meta_tools, MetaTool};
use crate::rest::{self, Route};
use crate::sql::SqlDialect;

/// A declared SQL-over-HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlEndpoint {
    pub host: String,
    /// Only this port, when set.
    #[serde(default)]
    pub port: Option<u16>,
    /// Only paths under this prefix, when set.
    #[serde(default)]
    pub path_prefix: Option<String>,
    pub dialect: SqlDialect,
    /// The action's tool name (default `sql:<host>`).
    #[serde(default)]
    pub tool: Option<String>,
}

/// Host names from configuration compare with the canonical names of requests.
fn same_host(configured: &str, canonical: &str) -> bool {
    configured
        .trim_end_matches('.')
        .eq_ignore_ascii_case(canonical)
}

impl SqlEndpoint {
    fn matches(&self, head: &RequestHead) -> bool {
        same_host(&self.host, &head.host)
            && self.port.is_none_or(|p| p == head.port)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| head.path.starts_with(prefix))
    }

    pub fn tool_name(&self) -> String {
        self.tool
            .clone()
            .unwrap_or_else(|| format!("sql:{}", self.host))
    }
}

/// A name for an MCP server, used to qualify its tools (`name.tool`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    pub name: String,
}

/// Everything the protocol layer needs to know from configuration.
#[derive(Debug, Clone)]
pub struct ProtocolConfig {
    pub sql_endpoints: Vec<SqlEndpoint>,
    pub routes: Vec<Route>,
    pub mcp_servers: Vec<McpServer>,
    pub meta_tools: Vec<MetaTool>,
    pub deny_template: DenyTemplate,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            sql_endpoints: Vec::new(),
            routes: Vec::new(),
            mcp_servers: Vec::new(),
            meta_tools: default_meta_tools(),
            deny_template: DenyTemplate::default(),
        }
    }
}

impl ProtocolConfig {
    /// The name MCP tools of this host are qualified with: configured, else the host name.
    pub fn mcp_server_name(&self, head: &RequestHead) -> String {
        self.mcp_servers
            .iter()
            .find(|s| same_host(&s.host, &head.host) && s.port.is_none_or(|p| p == head.port))
            .map(|s| s.name.clone())
            .unwrap_or_else(|| head.host.clone())
    }

    /// Every host name the configuration gives a meaning to (SQL endpoints, MCP servers, routes
    /// by exact host): the data plane recognises these by address too.
    pub fn named_hosts(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .sql_endpoints
            .iter()
            .map(|e| e.host.clone())
            .chain(self.mcp_servers.iter().map(|s| s.host.clone()))
            .chain(
                self.routes
                    .iter()
                    .filter(|r| !r.host.starts_with("*."))
                    .map(|r| r.host.clone()),
            )
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// What a request head says about the exchange (see the table above).
#[derive(Debug, Clone, PartialEq)]
pub enum HeadClass<'a> {
    /// A protocol switch (`Upgrade`): an action before anything reaches the upstream.
    Upgrade(String),
    /// A request to a declared SQL endpoint.
    Sql(&'a SqlEndpoint),
    /// A call to an LLM API: an action itself; its response may propose tool calls.
    Llm(LlmDialect),
    /// An action whose kind (MCP or REST) the body decides.
    Action,
    /// A read without a body to a host no policy watches: no decision.
    BodilessRead,
}

fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// The LLM dialect a request head names, if any.
pub fn llm_dialect(head: &RequestHead) -> Option<LlmDialect> {
    if !head.method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let path = path_only(&head.path).trim_end_matches('/');
    if path.ends_with("/chat/completions") {
        Some(LlmDialect::OpenaiChat)
    } else if path.ends_with("/responses") {
        Some(LlmDialect::OpenaiResponses)
    } else if path.ends_with("/messages") && head.headers.get("anthropic-version").is_some() {
        Some(LlmDialect::AnthropicMessages)
    } else {
        None
    }
}

/// Classifies a request by its head. `watched_host`: the host is in the bundle's
/// `read_action_hosts` (every request to it is an action).
pub fn classify_head<'a>(
    head: &RequestHead,
    cfg: &'a ProtocolConfig,
    watched_host: bool,
) -> HeadClass<'a> {
    if let Some(protocol) = head.headers.get_str("upgrade") {
        return HeadClass::Upgrade(protocol.trim().to_ascii_lowercase());
    }
    if head.headers.get("upgrade").is_some() {
        return HeadClass::Upgrade("<not text>".into());
    }
    if let Some(ep) = cfg.sql_endpoints.iter().find(|e| e.matches(head)) {
        return HeadClass::Sql(ep);
    }
    if let Some(dialect) = llm_dialect(head) {
        return HeadClass::Llm(dialect);
    }
    if watched_host || rest::is_action(&head.method, head.has_body) {
        HeadClass::Action
    } else {
        HeadClass::BodilessRead
    }
}

/// What a request body says, once read.
#[derive(Debug)]
pub enum BodyClass {
    /// JSON-RPC: one MCP action per message.
    Mcp(McpRequest),
    /// Anything else: one REST action.
    Rest(BodyRead),
}

/// Classifies a request by its body (already decoded from any `Content-Encoding`). An error is
/// a body that must be refused.
pub fn classify_body(head: &RequestHead, body: &[u8]) -> Result<BodyClass, Uninspectable> {
    if head.headers.count("content-type") > 1 {
        return Err(Uninspectable(
            "more than one Content-Type header (servers differ on which one they use)".into(),
        ));
    }
    let read = crate::body::read(head.headers.get_str("content-type"), body)?;
    // MCP clients send their messages with POST (streamable HTTP): a JSON-RPC-shaped body on
    // any other method is the REST request it is (a `DELETE` does not become an MCP message).
    if let (BodyRead::Json(value), true) = (&read, head.method.eq_ignore_ascii_case("POST")) {
        if let Some(req) = mcp::request_from(value)? {
            return Ok(BodyClass::Mcp(req));
        }
    }
    Ok(BodyClass::Rest(read))
}

/// A JSON value that is a JSON-RPC message or batch (for callers holding a parsed body).
pub fn is_json_rpc(value: &Value) -> bool {
    matches!(mcp::request_from(value), Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use aarmor_core::HeaderList;

    use super::*;

    fn head(method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> RequestHead {
        let mut h = HeaderList::default();
        for (n, v) in headers {
            h.push(*n, *v);
        }
        RequestHead {
            method: method.into(),
            scheme: "https",
            host: host.into(),
            port: 443,
            path: path.into(),
            headers: h,
            has_body: method == "POST",
        }
    }

    #[test]
    fn llm_paths() {
        let cfg = ProtocolConfig::default();
        let class = |h: &RequestHead| classify_head(h, &cfg, false);
        assert_eq!(
            class(&head("POST", "api.openai.com", "/v1/chat/completions", &[])),
            HeadClass::Llm(LlmDialect::OpenaiChat)
        );
        assert_eq!(
            class(&head(
                "POST",
                "x",
                "/openai/deployments/d/chat/completions?api-version=1",
                &[]
            )),
            HeadClass::Llm(LlmDialect::OpenaiChat)
        );
        assert_eq!(
            class(&head("POST", "api.openai.com", "/v1/responses", &[])),
            HeadClass::Llm(LlmDialect::OpenaiResponses)
        );
        assert_eq!(
            class(&head(
                "POST",
                "api.anthropic.com",
                "/v1/messages",
                &[("anthropic-version", "2023-06-01")]
            )),
            HeadClass::Llm(LlmDialect::AnthropicMessages)
        );
        assert_eq!(
            class(&head(
                "POST",
                "chat.test",
                "/v1/messages",
                &[("content-length", "2")]
            )),
            HeadClass::Action
        );
        assert_eq!(
            class(&head("GET", "x", "/v1/models", &[])),
            HeadClass::BodilessRead
        );
    }

    /// Whatever else a request looks like, a body, a state-changing method, an upgrade or a
    /// watched host makes it an action.
    #[test]
    fn everything_but_a_bodiless_read_is_decided() {
        let cfg = ProtocolConfig::default();
        let mut get = head("GET", "x", "/", &[]);
        assert_eq!(classify_head(&get, &cfg, false), HeadClass::BodilessRead);
        assert_eq!(classify_head(&get, &cfg, true), HeadClass::Action);
        get.has_body = true;
        assert_eq!(classify_head(&get, &cfg, false), HeadClass::Action);
        for m in ["DELETE", "PUT", "PATCH", "POST", "CONNECT", "PROPFIND"] {
            assert_eq!(
                classify_head(&head(m, "x", "/", &[]), &cfg, false),
                HeadClass::Action,
                "{m}"
            );
        }
        let ws = head(
            "GET",
            "x",
            "/ws",
            &[("upgrade", "WebSocket"), ("connection", "Upgrade")],
        );
        assert_eq!(
            classify_head(&ws, &cfg, false),
            HeadClass::Upgrade("websocket".into())
        );
    }

    #[test]
    fn sql_endpoints_and_bodies() {
        let cfg = ProtocolConfig {
            sql_endpoints: vec![SqlEndpoint {
                host: "CH.internal.".into(),
                port: Some(8123),
                path_prefix: None,
                dialect: SqlDialect::Clickhouse,
                tool: None,
            }],
            ..Default::default()
        };
        let mut h = head("GET", "ch.internal", "/?query=select+1", &[]);
        h.port = 8123;
        assert!(matches!(classify_head(&h, &cfg, false), HeadClass::Sql(_)));
        h.port = 9000;
        assert_eq!(classify_head(&h, &cfg, false), HeadClass::BodilessRead);
        let post = head(
            "POST",
            "mcp.test",
            "/mcp",
            &[("content-type", "application/json")],
        );
        assert!(matches!(
            classify_body(&post, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#),
            Ok(BodyClass::Mcp(_))
        ));
        assert!(matches!(
            classify_body(&post, br#"{"a":1}"#),
            Ok(BodyClass::Rest(BodyRead::Json(_)))
        ));
        // Whatever the method: any JSON-RPC message is MCP, and every message is an action.
        assert!(matches!(
            classify_body(
                &post,
                br#"{"jsonrpc":"2.0","method":"x","params":{"k":"v"}}"#
            ),
            Ok(BodyClass::Mcp(_))
        ));
        let two_types = head(
            "POST",
            "x",
            "/",
            &[
                ("content-type", "text/plain"),
                ("content-type", "application/json"),
            ],
        );
        assert!(classify_body(&two_types, b"{}").is_err());
    }
}
