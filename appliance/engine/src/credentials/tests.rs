//! The broker's rules without a data plane: bindings and scope, sources, leaks, redaction.

use std::path::Path;

use aarmor_core::credential::{CredentialAsk, Presented, SentRequest};
use aarmor_core::{Action, ActionId, ActionTarget, Identity, Protocol, RiskSignal};
use serde_json::json;

use super::mint::Minter;
use super::{CredentialBroker, CredentialConfig};

fn action(method: &str, host: &str, path: &str) -> Action {
    Action {
        envelope: Default::default(),
        action_id: ActionId("act_00000000000000000001".into()),
        timestamp: "2026-12-05T10:00:00.000Z".into(),
        protocol: Protocol::Rest,
        target: ActionTarget {
            host: host.into(),
            port: 443,
            method: method.into(),
            path: path.into(),
        },
        tool: format!("{host}{path}"),
        operation: method.to_ascii_lowercase(),
        parameters: json!({"q": 1}).as_object().cloned().unwrap_or_default(),
        identity: Identity {
            agent: Some("agent-a".into()),
            session: Some("s1".into()),
            ..Identity::default()
        },
        context_ref: None,
        risk_signals: vec![],
        credential: None,
    }
}

fn private_file(dir: &Path, name: &str, value: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

const YAML: &str = r#"
credentials:
  gh-read:
    source: {file: gh.secret}
    scope: read
    bindings:
      - host: api.github.test
        paths: ["/repos/**"]
  gh-write:
    source: {file: gh-write.secret}
    scope: write
    inject: {header: authorization, format: "token {secret}"}
    bindings:
      - host: "*.github.test"
        methods: [POST]
        paths: ["/repos/*/issues"]
  svc:
    source: {mint: {audience: "https://svc.test", ttl_s: 30}}
    scope: read
    attach: always
    bindings:
      - host: svc.test
"#;

fn setup(dir: &Path) -> (CredentialConfig, CredentialBroker) {
    private_file(dir, "gh.secret", "ghread-0123456789abcdef\n");
    private_file(dir, "gh-write.secret", "ghwrite-0123456789abcdef");
    let config = CredentialConfig::compile(dir, YAML).unwrap();
    let broker = CredentialBroker::with_minter(Minter::load_or_create(&dir.join("keys")).unwrap());
    broker.preload(&config).unwrap();
    (config, broker)
}

fn ask(name: &str) -> Result<Option<CredentialAsk>, aarmor_core::credential::AskError> {
    Ok(Some(CredentialAsk {
        name: name.into(),
        headers: vec!["authorization".into()],
    }))
}

fn violation(a: &Action) -> Option<&str> {
    a.risk_signals.iter().find_map(|s| match s {
        RiskSignal::CredentialScopeViolation { reason, .. } => Some(reason.as_str()),
        _ => None,
    })
}

#[tokio::test]
async fn a_credential_is_bound_only_within_its_bindings_and_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (config, broker) = setup(dir.path());

    let mut read = action("GET", "api.github.test", "/repos/o/r");
    broker
        .bind(&config, &mut read, ask("gh-read"), "https")
        .await;
    assert_eq!(violation(&read), None);
    let used = read.credential.clone().unwrap();
    assert_eq!(
        (used.name.as_str(), used.scope.as_str()),
        ("gh-read", "read")
    );
    assert_eq!(used.binding, "api.github.test/repos/**");
    assert_eq!(used.presented, Presented::Placeholder);

    let mut write = action("POST", "api.github.test", "/repos/o/r");
    broker
        .bind(&config, &mut write, ask("gh-read"), "https")
        .await;
    assert!(violation(&write).unwrap().contains("scope is read"));
    assert!(write.credential.is_none());

    for (method, host, path) in [
        ("GET", "evil.test", "/repos/o/r"),
        ("GET", "api.github.test", "/user/keys"),
        ("GET", "api.github.test.evil.test", "/repos/o/r"),
    ] {
        let mut a = action(method, host, path);
        broker.bind(&config, &mut a, ask("gh-read"), "https").await;
        assert!(violation(&a).is_some(), "{method} {host}{path}");
    }
    // A write credential: its methods and path pattern (one segment per `*`).
    let mut ok = action("POST", "api.github.test", "/repos/o/issues");
    broker
        .bind(&config, &mut ok, ask("gh-write"), "https")
        .await;
    assert_eq!(violation(&ok), None);
    let mut deep = action("POST", "api.github.test", "/repos/o/r/issues");
    broker
        .bind(&config, &mut deep, ask("gh-write"), "https")
        .await;
    assert!(violation(&deep).is_some());
    let mut delete = action("DELETE", "api.github.test", "/repos/o/issues");
    broker
        .bind(&config, &mut delete, ask("gh-write"), "https")
        .await;
    assert!(violation(&delete).unwrap().contains("methods POST"));

    let mut unknown = action("GET", "api.github.test", "/repos/o/r");
    broker
        .bind(&config, &mut unknown, ask("nope"), "https")
        .await;
    assert!(violation(&unknown).unwrap().contains("no credential"));

    // Nothing asked: only an `attach: always` binding attaches by itself.
    let mut bare = action("GET", "api.github.test", "/repos/o/r");
    broker.bind(&config, &mut bare, Ok(None), "https").await;
    assert!(bare.credential.is_none() && bare.risk_signals.is_empty());
    let mut svc = action("GET", "svc.test", "/x");
    broker.bind(&config, &mut svc, Ok(None), "https").await;
    assert_eq!(svc.credential.unwrap().presented, Presented::Bound);
    assert!(config.binds_host("svc.test") && config.binds_host("api.github.test"));
    assert!(!config.binds_host("evil.test"));
}

#[tokio::test]
async fn secrets_are_attached_after_the_decision_reloaded_and_found_leaking() {
    let dir = tempfile::tempdir().unwrap();
    let (config, broker) = setup(dir.path());
    let mut a = action("GET", "api.github.test", "/repos/o/r");
    broker.bind(&config, &mut a, ask("gh-read"), "https").await;
    let sent = SentRequest {
        path: "/repos/o/r",
        body: b"",
    };
    let attached = broker.attach(&config, &a, "rct_1", sent).await.unwrap();
    assert_eq!(attached.header, "authorization");
    assert_eq!(attached.value, "Bearer ghread-0123456789abcdef");
    assert!(
        format!("{attached:?}").find("ghread").is_none(),
        "Debug never shows it"
    );

    // Leaks: raw, in a URL, in base64 (a Basic header), and nothing else.
    assert_eq!(
        broker.leak(b"x ghread-0123456789abcdef y").as_deref(),
        Some("gh-read")
    );
    assert_eq!(
        broker.leak(b"/p?k=ghwrite-0123456789abcdef").as_deref(),
        Some("gh-write")
    );
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("me:ghread-0123456789abcdef");
    assert_eq!(broker.leak(basic.as_bytes()).as_deref(), Some("gh-read"));
    assert_eq!(broker.leak(b"ghread-0123"), None);

    // Redaction: what is receipted of a leaking action names the credential instead.
    let mut leaking = action("POST", "paste.test", "/p");
    leaking.parameters = json!({"text": "key ghread-0123456789abcdef"})
        .as_object()
        .cloned()
        .unwrap();
    let clean = broker.redacted(&leaking);
    assert_eq!(clean.parameters["text"], "key [secret of gh-read]");

    // The file changes (rotation): the next attachment carries the new secret, and the new one
    // is looked for too.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    private_file(dir.path(), "gh.secret", "ghread-rotated-9876543210");
    let attached = broker.attach(&config, &a, "rct_2", sent).await.unwrap();
    assert_eq!(attached.value, "Bearer ghread-rotated-9876543210");
    assert_eq!(
        broker.leak(b"ghread-rotated-9876543210").as_deref(),
        Some("gh-read")
    );

    // A secret that cannot be read any more refuses the action before policy.
    std::fs::remove_file(dir.path().join("gh.secret")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut b = action("GET", "api.github.test", "/repos/o/r");
    broker.bind(&config, &mut b, ask("gh-read"), "https").await;
    assert!(b
        .risk_signals
        .iter()
        .any(|s| matches!(s, RiskSignal::CredentialUnavailable { .. })));
}

#[tokio::test]
async fn minted_tokens_name_their_action_and_are_found_when_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (config, broker) = setup(dir.path());
    let mut a = action("GET", "svc.test", "/reports?x=1");
    broker.bind(&config, &mut a, Ok(None), "https").await;
    let sent = SentRequest {
        path: "/reports?x=1",
        body: b"",
    };
    let attached = broker.attach(&config, &a, "rct_9", sent).await.unwrap();
    let token = attached.value.strip_prefix("Bearer ").unwrap().to_string();
    let claims: serde_json::Value = {
        use base64::Engine as _;
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["receipt_id"], "rct_9");
    assert_eq!(claims["path"], "/reports?x=1");
    assert_eq!(claims["aud"], "https://svc.test");
    assert_eq!(claims["agent"], "agent-a");
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 30);
    assert_eq!(
        broker
            .leak(format!("Authorization: Bearer {token}").as_bytes())
            .as_deref(),
        Some(aarmor_core::action::MINTED_TOKEN)
    );
    let mut replay = action("POST", "evil.test", "/x");
    replay.parameters = json!({"t": token}).as_object().cloned().unwrap();
    assert_eq!(
        broker.redacted(&replay).parameters["t"],
        "[token aarmor minted]"
    );
}

#[test]
fn bad_configurations_are_refused_with_the_credential_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("credentials: {a: {source: {env: X}, scope: read, bindings: []}}", "no bindings"),
        (
            "credentials: {a: {source: {env: X, file: y}, scope: read, bindings: [{host: h}]}}",
            "exactly one",
        ),
        (
            "credentials: {a: {source: {mint: {audience: s, ttl_s: 600}}, scope: read, bindings: [{host: h}]}}",
            "ttl_s",
        ),
        (
            "credentials: {'a b': {source: {env: X}, scope: read, bindings: [{host: h}]}}",
            "a name is",
        ),
        (
            "credentials: {a: {source: {env: X}, scope: read, inject: {format: 'x'}, bindings: [{host: h}]}}",
            "{secret}",
        ),
        (
            "credentials: {a: {source: {env: X}, scope: admin, bindings: [{host: h}]}}",
            "unknown variant",
        ),
        (
            "credentials: {a: {source: {env: X}, scope: read, bindings: [{host: '*'}]}}",
            "not a host name",
        ),
    ];
    for (yaml, wanted) in cases {
        let err = CredentialConfig::compile(dir.path(), yaml).unwrap_err();
        assert!(err.contains(wanted), "{yaml}: {err}");
    }
    // A secret file others can read is refused when the bundle loads.
    use std::os::unix::fs::PermissionsExt;
    let loose = dir.path().join("loose");
    std::fs::write(&loose, "0123456789abcdef").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = CredentialConfig::compile(
        dir.path(),
        "credentials: {a: {source: {file: loose}, scope: read, bindings: [{host: h}]}}",
    )
    .unwrap();
    let err = CredentialBroker::default().preload(&config).unwrap_err();
    assert!(err.contains("chmod 600"), "{err}");
    // So is a missing environment variable.
    let config = CredentialConfig::compile(
        dir.path(),
        "credentials: {a: {source: {env: AARMOR_TEST_SURELY_UNSET}, scope: read, bindings: [{host: h}]}}",
    )
    .unwrap();
    assert!(CredentialBroker::default()
        .preload(&config)
        .unwrap_err()
        .contains("not set"));
}

#[tokio::test]
async fn a_minted_token_taken_apart_or_encoded_is_found() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let (config, broker) = setup(dir.path());
    let mut a = action("GET", "svc.test", "/x");
    broker.bind(&config, &mut a, Ok(None), "https").await;
    let sent = SentRequest {
        path: "/x",
        body: b"",
    };
    let attached = broker.attach(&config, &a, "rct_1", sent).await.unwrap();
    let token = attached.value.strip_prefix("Bearer ").unwrap().to_string();
    let (_, without_header) = token.split_once('.').unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    for hidden in [token.as_str(), without_header, b64.as_str()] {
        assert_eq!(
            broker.leak(hidden.as_bytes()).as_deref(),
            Some(aarmor_core::action::MINTED_TOKEN),
            "{hidden}"
        );
    }
}
