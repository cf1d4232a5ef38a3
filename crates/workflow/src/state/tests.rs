use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn proposal(text: &str, edited_by: Option<&str>, block_violations: u32) -> Proposal {
    Proposal {
        text: text.into(),
        candidate: 0,
        edited_by: edited_by.map(str::to_owned),
        block_violations,
    }
}

fn approve(reviewer: &str) -> Event {
    Event::Approve {
        reviewer: reviewer.into(),
        override_reason: None,
    }
}

fn in_review(policy: &BrandPolicy, p: Proposal) -> MessageState {
    let mut state = MessageState::Received;
    for event in [Event::StartDrafting, Event::DraftsReady, Event::Propose(p)] {
        state = transition(&state, &event, policy).unwrap();
    }
    state
}

#[test]
fn one_approval_suffices_by_default() {
    let policy = BrandPolicy::default();
    let state = in_review(&policy, proposal("Hi", None, 0));
    let next = transition(&state, &approve("ann"), &policy).unwrap();
    assert_eq!(next.status(), Status::Approved);
}

#[test]
fn crisis_mode_needs_two_distinct_approvers() {
    let policy = BrandPolicy {
        crisis_mode: true,
        ..BrandPolicy::default()
    };
    let state = in_review(&policy, proposal("Hi", None, 0));
    let once = transition(&state, &approve("ann"), &policy).unwrap();
    assert_eq!(once.status(), Status::AwaitingReview);
    assert_eq!(
        transition(&once, &approve("ann"), &policy),
        Err(TransitionError::AlreadyApproved("ann".into()))
    );
    let twice = transition(&once, &approve("bob"), &policy).unwrap();
    assert_eq!(twice.status(), Status::Approved);
}

#[test]
fn a_new_text_voids_earlier_approvals() {
    let policy = BrandPolicy {
        crisis_mode: true,
        ..BrandPolicy::default()
    };
    let state = in_review(&policy, proposal("Hi", None, 0));
    let once = transition(&state, &approve("ann"), &policy).unwrap();
    let edited = transition(
        &once,
        &Event::Propose(proposal("Hello", Some("bob"), 0)),
        &policy,
    )
    .unwrap();
    let again = transition(&edited, &approve("cat"), &policy).unwrap();
    assert_eq!(
        again.status(),
        Status::AwaitingReview,
        "ann approved other words"
    );
}

#[test]
fn an_editor_approves_their_own_edit_only_when_the_policy_allows() {
    let mut policy = BrandPolicy::default();
    let state = in_review(&policy, proposal("Hello", Some("ann"), 0));
    assert_eq!(
        transition(&state, &approve("ann"), &policy),
        Err(TransitionError::OwnEdit("ann".into()))
    );
    policy.author_may_approve_own_edit = true;
    assert_eq!(
        transition(&state, &approve("ann"), &policy)
            .unwrap()
            .status(),
        Status::Approved
    );
}

#[test]
fn block_violations_need_an_override_reason() {
    let policy = BrandPolicy::default();
    let state = in_review(&policy, proposal("Call 555-0100", None, 1));
    for reason in [None, Some("  ".to_owned())] {
        let event = Event::Approve {
            reviewer: "ann".into(),
            override_reason: reason,
        };
        assert_eq!(
            transition(&state, &event, &policy),
            Err(TransitionError::OverrideReasonRequired(1))
        );
    }
    let event = Event::Approve {
        reviewer: "ann".into(),
        override_reason: Some("the number is our public hotline".into()),
    };
    assert_eq!(
        transition(&state, &event, &policy).unwrap().status(),
        Status::Approved
    );
}

#[test]
fn a_webhook_reply_cannot_be_marked_posted_by_hand() {
    let policy = BrandPolicy {
        delivery: ConnectorKind::Webhook,
        ..BrandPolicy::default()
    };
    let state = in_review(&policy, proposal("Hi", None, 0));
    let approved = transition(&state, &approve("ann"), &policy).unwrap();
    let posted = transition(
        &approved,
        &Event::MarkedPosted {
            actor: "ann".into(),
        },
        &policy,
    );
    assert!(matches!(posted, Err(TransitionError::WrongConnector(..))));
    assert_eq!(
        transition(&approved, &Event::Delivered, &policy)
            .unwrap()
            .status(),
        Status::Sent
    );
}

#[test]
fn the_state_round_trips_through_json() {
    let policy = BrandPolicy::default();
    let state = in_review(&policy, proposal("Hi", Some("bob"), 2));
    let json = serde_json::to_string(&state).unwrap();
    assert!(json.contains(r#""status":"awaiting_review""#), "{json}");
    assert_eq!(serde_json::from_str::<MessageState>(&json).unwrap(), state);
}

// ---- The property: nothing reaches the outbox without the approvals the policy requires. ----

const PEOPLE: [&str; 3] = ["ann", "bob", "cat"];

#[derive(Debug, Clone)]
enum Step {
    Event(Event),
    SetCrisis(bool),
    SetOwnEdit(bool),
}

fn person() -> impl Strategy<Value = String> {
    prop::sample::select(PEOPLE.to_vec()).prop_map(str::to_owned)
}

fn reason() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(" ".to_owned())),
        Just(Some("legal checked it".to_owned()))
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let proposal = (
        prop::sample::select(vec!["Hi", "Hello", "Sorry"]),
        prop::option::of(person()),
        0u32..2,
    )
        .prop_map(|(text, edited_by, block_violations)| Proposal {
            text: text.into(),
            candidate: 0,
            edited_by,
            block_violations,
        });
    prop_oneof![
        1 => Just(Step::Event(Event::StartDrafting)),
        1 => Just(Step::Event(Event::DraftsReady)),
        1 => Just(Step::Event(Event::DraftingFailed {
            reason: "model crashed".into()
        })),
        1 => Just(Step::Event(Event::Requeue)),
        3 => proposal.prop_map(|p| Step::Event(Event::Propose(p))),
        6 => (person(), reason()).prop_map(|(reviewer, override_reason)| Step::Event(
            Event::Approve {
                reviewer,
                override_reason
            }
        )),
        1 => person().prop_map(|reviewer| Step::Event(Event::Reject {
            reviewer,
            reason: "off-brand".into()
        })),
        1 => person().prop_map(|actor| Step::Event(Event::Escalate {
            actor,
            reason: "legal".into()
        })),
        1 => Just(Step::Event(Event::ReturnToReview)),
        1 => Just(Step::Event(Event::Redraft)),
        2 => Just(Step::Event(Event::Delivered)),
        1 => person().prop_map(|actor| Step::Event(Event::MarkedPosted { actor })),
        1 => Just(Step::Event(Event::DeliveryFailed {
            reason: "dead letter".into()
        })),
        1 => any::<bool>().prop_map(Step::SetCrisis),
        1 => any::<bool>().prop_map(Step::SetOwnEdit),
    ]
}

/// What the test itself remembers about the text under review, independently of the states
/// `transition` returns: each approval of the current words and whether it was acceptable when
/// it was given.
#[derive(Debug, Default)]
struct Ledger {
    text: Option<Proposal>,
    /// reviewer → the approval was acceptable under the policy of that moment
    approvals: BTreeMap<String, bool>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nothing_reaches_the_outbox_without_the_required_approvals(
        steps in prop::collection::vec(step(), 1..60),
        delivery in prop_oneof![Just(ConnectorKind::Webhook), Just(ConnectorKind::Manual)],
    ) {
        let mut policy = BrandPolicy { delivery, ..BrandPolicy::default() };
        let mut state = MessageState::Received;
        let mut ledger = Ledger::default();
        let mut outbox: Vec<ApprovedReply> = Vec::new();
        for step in steps {
            let event = match step {
                Step::SetCrisis(on) => { policy.crisis_mode = on; continue; }
                Step::SetOwnEdit(on) => { policy.author_may_approve_own_edit = on; continue; }
                Step::Event(event) => event,
            };
            let Ok(next) = transition(&state, &event, &policy) else { continue };
            match &event {
                Event::Propose(p) => {
                    if ledger.text.as_ref().map(|t| &t.text) != Some(&p.text) {
                        ledger.text = Some(p.clone());
                        ledger.approvals.clear();
                    }
                }
                Event::Approve { reviewer, override_reason } => {
                    let text = ledger.text.as_ref().expect("approved with nothing proposed");
                    let own_edit = text.edited_by.as_deref() == Some(reviewer.as_str());
                    let reasoned = override_reason.as_deref().is_some_and(|r| !r.trim().is_empty());
                    let acceptable = (!own_edit || policy.author_may_approve_own_edit)
                        && (text.block_violations == 0 || reasoned);
                    prop_assert!(
                        ledger.approvals.insert(reviewer.clone(), acceptable).is_none(),
                        "{reviewer} counted twice"
                    );
                }
                Event::StartDrafting | Event::DraftsReady | Event::Redraft
                | Event::ReturnToReview | Event::Requeue => {
                    ledger = Ledger::default();
                }
                Event::DraftingFailed { .. } | Event::Reject { .. } | Event::Escalate { .. }
                | Event::Delivered | Event::MarkedPosted { .. } | Event::DeliveryFailed { .. } => {}
            }
            let entered_outbox = next.status() == Status::Approved
                && state.status() != Status::Approved;
            if entered_outbox {
                let MessageState::Approved(reply) = &next else { unreachable!() };
                let required = policy.required_approvals() as usize;
                prop_assert!(ledger.approvals.len() >= required,
                    "{} approval(s) of {required}: {ledger:?}", ledger.approvals.len());
                prop_assert!(ledger.approvals.values().all(|ok| *ok),
                    "an approval broke the policy: {ledger:?}");
                prop_assert_eq!(Some(&reply.proposal), ledger.text.as_ref());
                prop_assert_eq!(reply.approvals.len(), ledger.approvals.len());
                outbox.push(reply.clone());
            }
            if next.status() == Status::Sent {
                let MessageState::Sent(reply) = &next else { unreachable!() };
                prop_assert_eq!(state.status(), Status::Approved, "sent without the outbox");
                prop_assert_eq!(outbox.last(), Some(reply));
            }
            state = next;
        }
    }
}
