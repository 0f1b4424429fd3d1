//! What an exchange is: decided from the request head where possible, from the body otherwise.

use aarmor_core::{Protocol, RequestHead};
use serde::{Deserialize, Serialize};

use crate::llm::DenyTemplate;
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

impl SqlEndpoint {
    fn matches(&self, head: &RequestHead) -> bool {
        self.host.eq_ignore_ascii_case(&head.host)
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
            .find(|s| {
                s.host.eq_ignore_ascii_case(&head.host) && s.port.is_none_or(|p| p == head.port)
            })
            .map(|s| s.name.clone())
            .unwrap_or_else(|| head.host.clone())
    }
}

/// What a request head says about the exchange.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadClass<'a> {
    /// A call to an LLM API: the request is observed, the response may propose tool calls.
    Llm(Protocol),
    /// A request to a declared SQL endpoint.
    Sql(&'a SqlEndpoint),
    /// May be an action (MCP or REST): the body decides.
    NeedsBody,
    /// A read without a body: not an action.
    NotAnAction,
}

fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

pub fn classify_head<'a>(head: &RequestHead, cfg: &'a ProtocolConfig) -> HeadClass<'a> {
    if let Some(ep) = cfg.sql_endpoints.iter().find(|e| e.matches(head)) {
        return HeadClass::Sql(ep);
    }
    let has_body = head
        .headers
        .get_str("content-length")
        .is_some_and(|v| v.trim() != "0")
        || head.headers.get("transfer-encoding").is_some();
    if head.method.eq_ignore_ascii_case("POST") {
        let path = path_only(&head.path).trim_end_matches('/');
        if path.ends_with("/chat/completions") {
            return HeadClass::Llm(Protocol::OpenaiChat);
        }
        if path.ends_with("/responses") {
            return HeadClass::Llm(Protocol::OpenaiResponses);
        }
        if path.ends_with("/messages") && head.headers.get("anthropic-version").is_some() {
            return HeadClass::Llm(Protocol::AnthropicMessages);
        }
    }
    if rest::is_action(&head.method, has_body) {
        HeadClass::NeedsBody
    } else {
        HeadClass::NotAnAction
    }
}

/// What a request body says, once read.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyClass {
    Mcp(McpRequest),
    Rest,
}

pub fn classify_body(head: &RequestHead, body: &[u8]) -> BodyClass {
    let json = head
        .headers
        .get_str("content-type")
        .is_none_or(|ct| ct.to_ascii_lowercase().contains("json"));
    if head.method.eq_ignore_ascii_case("POST") && json {
        if let Some(req) = mcp::parse_request(body) {
            return BodyClass::Mcp(req);
        }
    }
    BodyClass::Rest
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
        }
    }

    #[test]
    fn llm_paths() {
        let cfg = ProtocolConfig::default();
        assert_eq!(
            classify_head(
                &head("POST", "api.openai.com", "/v1/chat/completions", &[]),
                &cfg
            ),
            HeadClass::Llm(Protocol::OpenaiChat)
        );
        assert_eq!(
            classify_head(
                &head(
                    "POST",
                    "x",
                    "/openai/deployments/d/chat/completions?api-version=1",
                    &[]
                ),
                &cfg
            ),
            HeadClass::Llm(Protocol::OpenaiChat)
        );
        assert_eq!(
            classify_head(&head("POST", "api.openai.com", "/v1/responses", &[]), &cfg),
            HeadClass::Llm(Protocol::OpenaiResponses)
        );
        assert_eq!(
            classify_head(
                &head(
                    "POST",
                    "api.anthropic.com",
                    "/v1/messages",
                    &[("anthropic-version", "2023-06-01")]
                ),
                &cfg
            ),
            HeadClass::Llm(Protocol::AnthropicMessages)
        );
        assert_eq!(
            classify_head(
                &head(
                    "POST",
                    "chat.test",
                    "/v1/messages",
                    &[("content-length", "2")]
                ),
                &cfg
            ),
            HeadClass::NeedsBody
        );
        assert_eq!(
            classify_head(&head("GET", "x", "/v1/models", &[]), &cfg),
            HeadClass::NotAnAction
        );
    }

    #[test]
    fn sql_endpoints_and_bodies() {
        let cfg = ProtocolConfig {
            sql_endpoints: vec![SqlEndpoint {
                host: "ch.internal".into(),
                port: Some(8123),
                path_prefix: None,
                dialect: SqlDialect::Clickhouse,
                tool: None,
            }],
            ..Default::default()
        };
        let mut h = head("GET", "ch.internal", "/?query=select+1", &[]);
        h.port = 8123;
        assert!(matches!(classify_head(&h, &cfg), HeadClass::Sql(_)));
        h.port = 9000;
        assert_eq!(classify_head(&h, &cfg), HeadClass::NotAnAction);
        let post = head(
            "POST",
            "mcp.test",
            "/mcp",
            &[("content-type", "application/json")],
        );
        assert!(matches!(
            classify_body(&post, br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#),
            BodyClass::Mcp(_)
        ));
        assert_eq!(classify_body(&post, br#"{"a":1}"#), BodyClass::Rest);
    }
}
