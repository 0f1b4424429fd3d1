//! Routing, quorum, self-approval and escalation of pending approvals.

use serde_json::json;

use super::*;
use crate::settings::{ApprovalSettings, ApproverSettings};

fn sha(s: &str) -> String {
    crate::identity::sha256_hex(s.as_bytes())
}

fn desk() -> Approvals {
    let approver = |n: &str, p: &str| ApproverSettings {
        name: n.into(),
        token_sha256: sha(n),
        principal: Some(p.into()),
    };
    let settings = ApprovalSettings {
        approvers: vec![
            approver("ana", "ana@corp.example"),
            approver("ben", "ben@corp.example"),
            approver("sec", "sec@corp.example"),
        ],
        groups: [
            (
                "finance".to_string(),
                vec!["ana".to_string(), "ben".to_string()],
            ),
            ("security".to_string(), vec!["sec".to_string()]),
        ]
        .into(),
        ..ApprovalSettings::default()
    };
    let a = Approvals::default();
    a.configure(Directory::new(&settings, Some("op".into())), None);
    a
}

fn request(id: &str, quorum: u32, human: Option<&str>) -> ApprovalRequest {
    let mut action: Action = serde_json::from_value(json!({
        "action_id": "act_1", "timestamp": "2026-11-23T10:00:00.000Z", "protocol": "rest",
        "target": {"host": "bank", "port": 443, "method": "POST", "path": "/transfer"},
        "tool": "bank/transfer", "operation": "post", "parameters": {}, "risk_signals": []
    }))
    .unwrap();
    action.identity.human = human.map(str::to_string);
    ApprovalRequest {
        id: id.into(),
        receipt_id: "rct_1".into(),
        action,
        context: json!({}),
        rule: Some("payments.large".into()),
        reason: "large transfer".into(),
        risk: "medium".into(),
        approvers: vec!["finance".into()],
        quorum,
        escalate_to: vec!["security".into()],
        escalates_at: None,
        escalated: false,
        votes: vec![],
        created: "2026-11-23T10:00:00.000Z".into(),
        expires: "2026-11-23T10:05:00.000Z".into(),
    }
}

fn who(a: &Approvals, token: &str) -> Approver {
    a.directory().authenticate(token, None).unwrap()
}

#[test]
fn two_of_a_group_must_approve_and_one_denial_refuses() {
    let a = desk();
    let mut rx = a.open(request("apr_1", 2, Some("carl@corp.example")));
    assert_eq!(
        a.vote("apr_1", &who(&a, "ana"), true, Some("ok".into()), "console"),
        Ok(VoteOutcome::Waiting {
            approvals: 1,
            quorum: 2
        })
    );
    assert_eq!(
        a.vote("apr_1", &who(&a, "ana"), true, None, "console"),
        Err(ApprovalError::AlreadyVoted("ana".into()))
    );
    assert!(matches!(
        a.vote("apr_1", &who(&a, "sec"), true, None, "console"),
        Err(ApprovalError::NotEligible(..))
    ));
    assert!(rx.try_recv().is_err(), "not decided yet");
    assert_eq!(
        a.vote("apr_1", &who(&a, "ben"), true, Some("fine".into()), "api"),
        Ok(VoteOutcome::Approved)
    );
    let answer = rx.try_recv().unwrap();
    assert!(answer.approved);
    assert_eq!(answer.approver, "ben");
    assert_eq!(answer.votes.len(), 2);

    let mut rx = a.open(request("apr_2", 2, None));
    assert_eq!(
        a.vote(
            "apr_2",
            &who(&a, "ana"),
            false,
            Some("no".into()),
            "console"
        ),
        Ok(VoteOutcome::Denied)
    );
    let answer = rx.try_recv().unwrap();
    assert!(!answer.approved && answer.reason.as_deref() == Some("no"));
}

#[test]
fn nobody_approves_their_own_action() {
    let a = desk();
    let _rx = a.open(request("apr_3", 1, Some("ANA@corp.example")));
    assert_eq!(
        a.vote("apr_3", &who(&a, "ana"), true, None, "console"),
        Err(ApprovalError::SelfApproval("ana".into()))
    );
    // The operator token acting for ana is refused too.
    let op = a
        .directory()
        .authenticate("op", Some("ana@corp.example"))
        .unwrap();
    assert!(matches!(
        a.vote("apr_3", &op, true, None, "api"),
        Err(ApprovalError::SelfApproval(_))
    ));
    assert_eq!(
        a.vote("apr_3", &who(&a, "ben"), true, None, "console"),
        Ok(VoteOutcome::Approved)
    );
}

#[test]
fn escalation_opens_the_request_to_backup_groups() {
    let a = desk();
    let mut changes = a.changes();
    let _rx = a.open(request("apr_4", 1, None));
    assert!(changes.has_changed().unwrap());
    changes.mark_unchanged();
    a.escalate("apr_4");
    assert!(changes.has_changed().unwrap(), "live views hear of it");
    assert!(a.get("apr_4").unwrap().escalated);
    assert_eq!(
        a.vote("apr_4", &who(&a, "sec"), true, None, "console"),
        Ok(VoteOutcome::Approved)
    );
    assert!(a.get("apr_4").is_none() || a.list().is_empty());
}

#[test]
fn risk_levels_follow_data_drift_and_provenance() {
    assert_eq!(risk_level(&json!({})), "low");
    assert_eq!(
        risk_level(&json!({"context": {"max_data_class": "RESTRICTED"}})),
        "medium"
    );
    assert_eq!(
        risk_level(
            &json!({"context": {"max_data_class": "RESTRICTED"}, "intent": {"drift": 0.8, "provenance": {"to": "tool_output"}}})
        ),
        "critical"
    );
}

/// One operator token is one vote, whatever names it gives, and never the vote of a configured
/// approver: it cannot complete a quorum of two alone.
#[test]
fn the_operator_token_is_one_vote_and_never_an_approver() {
    let a = desk();
    let _rx = a.open(request("apr_op", 2, None));
    let op = |name: &str| a.directory().authenticate("op", Some(name)).unwrap();
    assert_eq!(
        a.vote("apr_op", &op("ana"), true, None, "api"),
        Err(ApprovalError::OperatorAsApprover("ana".into()))
    );
    assert_eq!(
        a.vote("apr_op", &op("ci-bot"), true, None, "api"),
        Ok(VoteOutcome::Waiting {
            approvals: 1,
            quorum: 2
        })
    );
    assert_eq!(
        a.vote("apr_op", &op("ci-bot-2"), true, None, "api"),
        Err(ApprovalError::AlreadyVoted("the operator token".into()))
    );
    // A real approver completes it.
    assert_eq!(
        a.vote("apr_op", &who(&a, "ben"), true, None, "console"),
        Ok(VoteOutcome::Approved)
    );
}

/// Approvers see only what is routed to their groups; the operator sees everything.
#[test]
fn approvers_see_only_what_is_routed_to_them() {
    let a = desk();
    let _rx = a.open(request("apr_fin", 1, None));
    assert_eq!(a.list_for(&who(&a, "ana")).len(), 1);
    assert!(a.list_for(&who(&a, "sec")).is_empty());
    assert!(a.get_for("apr_fin", &who(&a, "sec")).is_none());
    let op = a.directory().authenticate("op", None).unwrap();
    assert_eq!(a.list_for(&op).len(), 1);
}

/// The queue is bounded, in all and per agent: past it, a STEP_UP is denied at once.
#[test]
fn the_queue_is_bounded_per_agent_and_in_all() {
    let settings = ApprovalSettings {
        approvers: vec![ApproverSettings {
            name: "ana".into(),
            token_sha256: sha("ana"),
            principal: None,
        }],
        max_pending: 3,
        max_pending_per_agent: 1,
        ..ApprovalSettings::default()
    };
    let a = Approvals::default();
    a.configure(Directory::new(&settings, None), None);
    let of = |id: &str, agent: &str| {
        let mut r = request(id, 1, None);
        r.action.identity.agent = Some(agent.into());
        r
    };
    assert!(a.has_room("bot").is_ok());
    let _one = a.open(of("apr_a", "bot"));
    assert!(a
        .has_room("bot")
        .unwrap_err()
        .contains("max_pending_per_agent"));
    let _two = a.open(of("apr_b", "other"));
    let _three = a.open(of("apr_c", "third"));
    assert!(a.has_room("fourth").unwrap_err().contains("max_pending"));
}
