//! REST and SQL-over-HTTP requests: the request (its body read the way its server reads it) is
//! the action; a modification rewrites the body or the statement.

use aarmor_core::{ActionTarget, Denial, FinalVerdict, SyntheticResponse};
use aarmor_protocols::body::BodyRead;
use aarmor_protocols::classify::{classify_body, BodyClass, SqlEndpoint};
use aarmor_protocols::mcp;
use aarmor_protocols::{rest, sql};
use bytes::Bytes;
use serde_json::Value;

use crate::seam::{BodyVerdict, RequestEdit};

use super::problems::denied_problem;
use super::{ActionInspector, Kind, ResponseHandling};

impl ActionInspector {
    pub(super) fn target(&self) -> ActionTarget {
        let req = &self.exchange.request;
        ActionTarget {
            host: req.host.clone(),
            port: req.port,
            method: req.method.clone(),
            // As servers route it (`%68ooks` is `hooks`): the form path rules match.
            path: rest::normalize_path(&req.path),
        }
    }

    /// The REST tool name of this request: `host` + path template.
    pub(super) fn rest_tool(&self) -> String {
        let req = &self.exchange.request;
        format!(
            "{}{}",
            req.host,
            rest::path_template(&rest::normalize_path(&req.path))
        )
    }

    /// Reads the request body for policy; `Err` is the refusal to answer with.
    pub(super) async fn read_body(&mut self, body: &Bytes) -> Result<BodyRead, SyntheticResponse> {
        let head = &self.exchange.request;
        let read = match classify_body(head, body) {
            Ok(BodyClass::Rest(read)) => Ok(read),
            Ok(BodyClass::Mcp(req)) => Ok(BodyRead::Json(
                serde_json::from_slice(&mcp::render_request(&req)).unwrap_or(Value::Null),
            )),
            Err(e) => Err(e.0),
        };
        match read {
            Ok(r) => Ok(r),
            Err(reason) => Err(self
                .refuse_unreadable(
                    415,
                    "uninspectable-request",
                    "Refused: the request body cannot be inspected",
                    &reason,
                )
                .await),
        }
    }

    pub(super) async fn sql_body(&mut self, ep: &SqlEndpoint, body: &Bytes) -> BodyVerdict {
        let req = self.exchange.request.clone();
        let Some(text) = sql::extract(ep.dialect, &req.method, &req.path, body) else {
            // No statement in this request (a status poll, a cancel): handled as REST.
            self.kind = Kind::Rest;
            return match self.read_body(body).await {
                Ok(read) => self.rest_read(read, body.len()).await,
                Err(refusal) => BodyVerdict::Respond(refusal),
            };
        };
        let draft = sql::draft(ep.dialect, &ep.tool_name(), &text);
        self.session().await;
        self.response = ResponseHandling::ResultObserve;
        let mut action = self.request_action(draft);
        let verdict = self.decide_request_action(&mut action).await;
        match verdict {
            FinalVerdict::Allow => BodyVerdict::Forward,
            FinalVerdict::Deny(d) => BodyVerdict::Respond(denied_problem(&action, &d)),
            FinalVerdict::Modify(m) => {
                let new_sql = m.parameters.get("sql").and_then(Value::as_str);
                match new_sql {
                    Some(s) if s == text.sql => BodyVerdict::Forward,
                    Some(s) => match sql::rewrite(ep.dialect, &req.path, body, s) {
                        Some((path, new_body)) => BodyVerdict::Edit(RequestEdit {
                            path: (path != req.path).then_some(path),
                            body: Some(Bytes::from(new_body)),
                        }),
                        None => BodyVerdict::Respond(denied_problem(&action, &Denial { rule: m.rule, reason: "the statement had to be rewritten but this request cannot be; refused".into() })),
                    },
                    None => BodyVerdict::Forward,
                }
            }
        }
    }

    pub(super) async fn rest_read(&mut self, read: BodyRead, body_len: usize) -> BodyVerdict {
        let req = &self.exchange.request;
        let (draft, format) = rest::draft_read(
            &req.method,
            &req.host,
            &req.path,
            req.headers.get_str("content-type"),
            read,
            body_len,
            &self.shared.protocols.routes,
        );
        self.session().await;
        self.response = ResponseHandling::ResultObserve;
        let mut action = self.request_action(draft);
        let verdict = self.decide_request_action(&mut action).await;
        match verdict {
            FinalVerdict::Allow => BodyVerdict::Forward,
            FinalVerdict::Deny(d) => BodyVerdict::Respond(denied_problem(&action, &d)),
            FinalVerdict::Modify(m) => match rest::render_body(format, &m.parameters) {
                Some(new_body) => BodyVerdict::Edit(RequestEdit {
                    path: None,
                    body: Some(Bytes::from(new_body)),
                }),
                None => BodyVerdict::Respond(denied_problem(&action, &Denial { rule: m.rule, reason: "the body had to be rewritten but it is neither JSON, a form nor text, or the new body is not of its kind; refused".into() })),
            },
        }
    }
}
