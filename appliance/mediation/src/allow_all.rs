//! The pass-through mediator: forwards everything and logs each exchange.

use async_trait::async_trait;

use crate::seam::{Exchange, HeadVerdict, MediationError, Mediator};

/// Forwards every exchange unchanged and logs it at `info`.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAllMediator;

#[async_trait]
impl Mediator for AllowAllMediator {
    fn name(&self) -> &'static str {
        "allow-all"
    }

    async fn on_request_head(&self, exchange: &Exchange) -> Result<HeadVerdict, MediationError> {
        let req = &exchange.request;
        tracing::info!(
            exchange = exchange.id,
            method = %req.method,
            target = %format_args!("{}://{}:{}{}", req.scheme, req.host, req.port, req.path),
            mode = ?exchange.connection.mode,
            "allow"
        );
        Ok(HeadVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aarmor_core::{ConnectionFacts, ConnectionMode, HeaderList, RequestHead};

    use super::*;

    #[tokio::test]
    async fn forwards_everything() {
        let exchange = Exchange {
            id: 1,
            connection: Arc::new(ConnectionFacts {
                client_addr: None,
                mode: ConnectionMode::ForwardHttp,
                target: None,
                sni: None,
                credential: None,
                client_cert: None,
            }),
            request: RequestHead {
                method: "DELETE".into(),
                scheme: "http",
                host: "example.test".into(),
                port: 80,
                path: "/x".into(),
                headers: HeaderList::default(),
                has_body: false,
            },
        };
        let verdict = AllowAllMediator.on_request_head(&exchange).await.unwrap();
        assert!(matches!(verdict, HeadVerdict::Forward));
    }
}
