//! The store suite: workflow verbs against a real store.

use std::collections::BTreeSet;

use anyhow::ensure;
use tact_workflow::{
    AuditAction, BrandPolicy, BrandScope, Error, MessageFilter, MessageState, OutboxStatus,
    ReplyChoice, Role, Status, TransitionError, Verdict, Workflow,
};

use crate::support::{
    FIRST, SECOND, awaiting_review, blocked_candidate, candidate, drafted, inbound,
};

pub async fn submit_reads_back_and_refuses_duplicates(wf: Workflow) -> anyhow::Result<()> {
    let sent = inbound("m-1", "acme");
    let record = wf.submit(&sent, "inbound:api").await?;
    assert_eq!(record.inbound, sent);
    assert_eq!(record.state, MessageState::Received);
    assert_eq!(record.version, 1);
    assert_eq!(wf.message("m-1").await?, record);

    let mut other = inbound("m-1", "acme");
    other.text = "A different text under the same id".into();
    let err = wf.submit(&other, "inbound:api").await.unwrap_err();
    assert!(
        matches!(err, Error::DuplicateMessage(ref id) if id == "m-1"),
        "{err}"
    );
    assert_eq!(
        wf.message("m-1").await?,
        record,
        "the duplicate changed nothing"
    );

    let log = wf.store().audit_log("m-1").await?;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, AuditAction::Received);
    assert_eq!(log[0].actor, "inbound:api");
    assert_eq!(log[0].to, Status::Received);

    wf.submit(&inbound("m-2", "globex"), "inbound:api").await?;
    let acme = MessageFilter {
        brand: Some("acme".into()),
        ..MessageFilter::default()
    };
    let ids: Vec<_> = wf
        .queue(&acme)
        .await?
        .into_iter()
        .map(|m| m.inbound.id)
        .collect();
    assert_eq!(ids, ["m-1"]);
    let received = MessageFilter {
        status: Some(Status::Received),
        ..MessageFilter::default()
    };
    assert_eq!(wf.queue(&received).await?.len(), 2);
    Ok(())
}

pub async fn edit_approve_and_post_by_hand(wf: Workflow) -> anyhow::Result<()> {
    let m = awaiting_review(&wf, "m-1", "acme").await?;
    let edited = "Sorry about the wait, Casey! Please DM us your order number.";
    let choice = ReplyChoice::Edited {
        candidate: 0,
        text: edited.into(),
        violations: Vec::new(),
    };
    // The default policy does not let an editor approve their own edit.
    let err = wf
        .approve("m-1", m.version, "ann", Some(choice.clone()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transition(TransitionError::OwnEdit(_))),
        "{err}"
    );
    assert_eq!(
        wf.message("m-1").await?,
        m,
        "a refused approval writes nothing"
    );

    let m = wf.propose("m-1", m.version, "ann", choice).await?;
    let m = wf.approve("m-1", m.version, "bob", None, None).await?;
    let MessageState::Approved(reply) = &m.state else {
        panic!("not approved: {:?}", m.state)
    };
    assert_eq!(reply.proposal.text, edited);
    assert_eq!(reply.proposal.edited_by.as_deref(), Some("ann"));

    let outbox = wf.store().outbox_for_message("m-1").await?;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].status, OutboxStatus::AwaitingManual);
    assert_eq!(outbox[0].payload.text, edited);
    assert_eq!(outbox[0].payload.approved_by, ["bob"]);

    let pairs = wf.edit_pairs("acme").await?;
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        (pairs[0].draft_text.as_str(), pairs[0].final_text.as_str()),
        (FIRST, edited)
    );

    let m = wf.mark_posted("m-1", m.version, "ann").await?;
    assert_eq!(m.state.status(), Status::Sent);
    let outbox = wf.store().outbox_for_message("m-1").await?;
    assert_eq!(outbox[0].status, OutboxStatus::Delivered);
    let err = wf.mark_posted("m-1", m.version, "ann").await.unwrap_err();
    assert!(
        matches!(err, Error::Transition(TransitionError::NotAllowed { .. })),
        "{err}"
    );

    let log = wf.store().audit_log("m-1").await?;
    let actions: Vec<_> = log.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Received,
            AuditAction::DraftingStarted,
            AuditAction::DraftsReady,
            AuditAction::Proposed,
            AuditAction::Approved,
            AuditAction::MarkedPosted,
        ]
    );
    let approval = &log[4];
    assert_eq!(approval.actor, "bob");
    assert_eq!(approval.draft_text.as_deref(), Some(FIRST));
    assert_eq!(approval.final_text.as_deref(), Some(edited));
    let diff = approval.diff.as_deref().unwrap_or_default();
    assert!(
        diff.contains("[-Casey. Could you DM-]") || diff.contains("{+"),
        "{diff}"
    );
    assert!(
        log.windows(2)
            .all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at)
    );

    let reviews = wf.store().reviews("m-1").await?;
    let verdicts: Vec<_> = reviews
        .iter()
        .map(|r| (r.reviewer.as_str(), r.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [("ann", Verdict::Edit), ("bob", Verdict::Approve)]
    );
    Ok(())
}

pub async fn stale_versions_and_unknown_ids_change_nothing(wf: Workflow) -> anyhow::Result<()> {
    let m = awaiting_review(&wf, "m-1", "acme").await?;
    let before = wf.store().audit_log("m-1").await?;
    let err = wf
        .approve(
            "m-1",
            m.version - 1,
            "ann",
            Some(ReplyChoice::Candidate(0)),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::StaleVersion { expected, current, .. }
            if expected == m.version - 1 && current == m.version),
        "{err}"
    );
    let err = wf.approve("nope", 1, "ann", None, None).await.unwrap_err();
    assert!(
        matches!(err, Error::UnknownMessage(ref id) if id == "nope"),
        "{err}"
    );
    let err = wf
        .approve(
            "m-1",
            m.version,
            "ann",
            Some(ReplyChoice::Candidate(7)),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnknownCandidate {
                index: 7,
                count: 2,
                ..
            }
        ),
        "{err}"
    );
    let err = wf
        .approve("m-1", m.version, "ann", None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transition(TransitionError::NothingProposed)),
        "{err}"
    );

    assert_eq!(wf.message("m-1").await?, m);
    assert_eq!(wf.store().audit_log("m-1").await?, before);
    assert!(wf.store().outbox_for_message("m-1").await?.is_empty());
    Ok(())
}

pub async fn concurrent_approvals_of_one_version_have_one_winner(
    wf: Workflow,
) -> anyhow::Result<()> {
    // Eight reviewers approve the same version, four choosing each candidate: one wins.
    let m = awaiting_review(&wf, "m-1", "acme").await?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8usize {
        let wf = wf.clone();
        let version = m.version;
        tasks.spawn(async move {
            let choice = ReplyChoice::Candidate(i % 2);
            wf.approve("m-1", version, &format!("reviewer-{i}"), Some(choice), None)
                .await
        });
    }
    let mut won = Vec::new();
    while let Some(result) = tasks.join_next().await {
        match result? {
            Ok(record) => won.push(record),
            Err(Error::StaleVersion { .. }) => {}
            Err(other) => anyhow::bail!("unexpected error: {other}"),
        }
    }
    ensure!(won.len() == 1, "{} approvals won", won.len());
    let m = wf.message("m-1").await?;
    assert_eq!(m, won[0]);
    assert_eq!(m.state.status(), Status::Approved);
    let outbox = wf.store().outbox_for_message("m-1").await?;
    assert_eq!(outbox.len(), 1, "exactly one reply in the outbox");
    let MessageState::Approved(reply) = &m.state else {
        unreachable!()
    };
    assert_eq!(outbox[0].payload.text, reply.proposal.text);
    let approvals = wf
        .store()
        .audit_log("m-1")
        .await?
        .into_iter()
        .filter(|e| e.action == AuditAction::Approved)
        .count();
    assert_eq!(approvals, 1);
    Ok(())
}

pub async fn crisis_mode_needs_two_reviewers(wf: Workflow) -> anyhow::Result<()> {
    let crisis = BrandPolicy {
        crisis_mode: true,
        ..BrandPolicy::default()
    };
    wf.set_policy("acme", &crisis).await?;
    let m = awaiting_review(&wf, "m-1", "acme").await?;
    let m = wf
        .approve(
            "m-1",
            m.version,
            "ann",
            Some(ReplyChoice::Candidate(1)),
            None,
        )
        .await?;
    assert_eq!(m.state.status(), Status::AwaitingReview);
    assert!(wf.store().outbox_for_message("m-1").await?.is_empty());
    let err = wf
        .approve("m-1", m.version, "ann", None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transition(TransitionError::AlreadyApproved(_))),
        "{err}"
    );
    let m = wf.approve("m-1", m.version, "bob", None, None).await?;
    assert_eq!(m.state.status(), Status::Approved);
    let outbox = wf.store().outbox_for_message("m-1").await?;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].payload.text, SECOND);
    assert_eq!(outbox[0].payload.approved_by, ["ann", "bob"]);
    Ok(())
}

pub async fn block_violations_need_an_override(wf: Workflow) -> anyhow::Result<()> {
    let risky = "We'll send you a full refund today.";
    let m = drafted(
        &wf,
        "m-1",
        "acme",
        vec![blocked_candidate(risky), candidate(FIRST)],
    )
    .await?;
    let err = wf
        .approve(
            "m-1",
            m.version,
            "ann",
            Some(ReplyChoice::Candidate(0)),
            Some(" ".into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transition(TransitionError::OverrideReasonRequired(1))
        ),
        "{err}"
    );
    assert_eq!(wf.message("m-1").await?, m);
    let reason = "refund approved by support lead";
    let m = wf
        .approve(
            "m-1",
            m.version,
            "ann",
            Some(ReplyChoice::Candidate(0)),
            Some(reason.into()),
        )
        .await?;
    assert_eq!(m.state.status(), Status::Approved);
    let log = wf.store().audit_log("m-1").await?;
    let approval = log.last().unwrap();
    assert_eq!(
        approval.note.as_deref(),
        Some(format!("override: {reason}").as_str())
    );
    let reviews = wf.store().reviews("m-1").await?;
    assert_eq!(reviews.last().unwrap().reason.as_deref(), Some(reason));
    Ok(())
}

pub async fn rejected_replies_never_reach_the_outbox(wf: Workflow) -> anyhow::Result<()> {
    let m = awaiting_review(&wf, "m-1", "acme").await?;
    let err = wf.reject("m-1", m.version, "ann", "  ").await.unwrap_err();
    assert!(
        matches!(err, Error::Transition(TransitionError::Empty("reason"))),
        "{err}"
    );
    let m = wf.reject("m-1", m.version, "ann", "off-brand tone").await?;
    assert_eq!(
        m.state,
        MessageState::Rejected {
            by: "ann".into(),
            reason: "off-brand tone".into()
        }
    );
    let err = wf
        .approve(
            "m-1",
            m.version,
            "bob",
            Some(ReplyChoice::Candidate(0)),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transition(TransitionError::NotAllowed { .. })),
        "{err}"
    );
    assert!(wf.store().outbox_for_message("m-1").await?.is_empty());
    assert!(wf.approved_replies("acme", 0, 10).await?.is_empty());

    // Escalated, then back to review: the approval path opens again.
    let e = awaiting_review(&wf, "m-2", "acme").await?;
    let e = wf.escalate("m-2", e.version, "ann", "legal threat").await?;
    assert_eq!(e.state.status(), Status::Escalated);
    let e = wf.return_to_review("m-2", e.version, "lead").await?;
    let e = wf
        .approve(
            "m-2",
            e.version,
            "lead",
            Some(ReplyChoice::Candidate(1)),
            None,
        )
        .await?;
    assert_eq!(e.state.status(), Status::Approved);
    Ok(())
}

pub async fn approved_replies_feed_the_knowledge_base(wf: Workflow) -> anyhow::Result<()> {
    for id in ["m-1", "m-2", "m-3"] {
        let m = awaiting_review(&wf, id, "acme").await?;
        let choice = if id == "m-2" {
            ReplyChoice::Edited {
                candidate: 1,
                text: format!("{SECOND} Thanks for your patience."),
                violations: Vec::new(),
            }
        } else {
            ReplyChoice::Candidate(0)
        };
        let m = wf.propose(id, m.version, "ann", choice).await?;
        wf.approve(id, m.version, "bob", None, None).await?;
    }
    awaiting_review(&wf, "other", "globex").await?;

    let all = wf.approved_replies("acme", 0, 10).await?;
    let ids: Vec<_> = all.iter().map(|r| r.message_id.as_str()).collect();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);
    assert!(
        all.iter()
            .all(|r| r.brand == "acme" && r.channel == "twitter")
    );
    assert!(all.iter().all(|r| r.inbound_text.contains("order #1234")));
    assert!(all.iter().all(|r| r.approved_by == ["bob"]));
    let after_first = wf.approved_replies("acme", all[0].seq, 10).await?;
    assert_eq!(after_first, all[1..]);
    assert_eq!(wf.approved_replies("acme", 0, 1).await?, all[..1]);
    assert!(wf.approved_replies("globex", 0, 10).await?.is_empty());

    let pairs = wf.edit_pairs("acme").await?;
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].message_id, "m-2");
    assert_eq!(pairs[0].draft_text, SECOND);
    assert!(pairs[0].edited);
    Ok(())
}

pub async fn policies_are_validated_and_kept(wf: Workflow) -> anyhow::Result<()> {
    assert_eq!(wf.policy("acme").await?, BrandPolicy::default());
    let invalid = BrandPolicy {
        approvals: 0,
        ..BrandPolicy::default()
    };
    let err = wf.set_policy("acme", &invalid).await.unwrap_err();
    assert!(matches!(err, Error::InvalidPolicy(_)), "{err}");
    assert_eq!(wf.policy("acme").await?, BrandPolicy::default());
    let strict = BrandPolicy {
        approvals: 2,
        crisis_approvals: 3,
        author_may_approve_own_edit: true,
        ..BrandPolicy::default()
    };
    wf.set_policy("acme", &strict).await?;
    assert_eq!(wf.policy("acme").await?, strict);
    assert_eq!(wf.policy("globex").await?, BrandPolicy::default());
    Ok(())
}

pub async fn tokens_are_hashed_scoped_and_revocable(wf: Workflow) -> anyhow::Result<()> {
    let issued = wf
        .create_token(
            "casey's laptop",
            Role::Approver,
            BrandScope::Only(vec!["acme".into()]),
        )
        .await?;
    let admin = wf.create_token("ops", Role::Admin, BrandScope::All).await?;
    assert_ne!(issued.secret, admin.secret);

    let token = wf.authenticate(&issued.secret).await?;
    assert_eq!(token, issued.token);
    assert!(token.brands.allows("acme") && !token.brands.allows("globex"));
    assert_eq!(wf.authenticate(&admin.secret).await?.role, Role::Admin);
    let err = wf.authenticate("tact_0000").await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized), "{err}");

    let listed = wf.store().tokens().await?;
    let ids: BTreeSet<_> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([issued.token.id.as_str(), admin.token.id.as_str()])
    );
    assert!(
        !format!("{listed:?}").contains(&issued.secret[5..]),
        "the secret is not stored"
    );

    wf.revoke_token(&issued.token.id).await?;
    let err = wf.authenticate(&issued.secret).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized), "{err}");
    wf.authenticate(&admin.secret).await?;
    let err = wf.revoke_token("no-such-token").await.unwrap_err();
    assert!(matches!(err, Error::UnknownToken(_)), "{err}");
    Ok(())
}
