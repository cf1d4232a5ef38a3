//! From drafting's values to what the workflow stores and the API shows. The vocabulary is
//! tact-core's ([`tact_core::review`]); only the API's views differ, derived by `From`.

use tact_core::InboundMessage;
use tact_drafting::triage::Route;
use tact_drafting::{CheckContext, check};
use tact_workflow::{Drafts, Violation};

use crate::api::TriageView;
use crate::error::ApiError;
use crate::state::BrandSetup;

/// Why triage sent the message to a person.
pub fn escalation_reason(set: &tact_drafting::DraftSet) -> String {
    let screening = &set.triage.screening;
    debug_assert_eq!(screening.route, Route::Escalate);
    let topics: Vec<String> = screening
        .escalations
        .iter()
        .map(|e| format!("{} (\"{}\", {})", e.topic, e.trigger, e.clause))
        .collect();
    if topics.is_empty() {
        "triage: the message reads as a threat; a person must answer it".to_owned()
    } else {
        format!(
            "triage: escalation topic {}; a person must answer it",
            topics.join(", ")
        )
    }
}

pub fn stored_triage(drafts: Option<&Drafts>) -> Option<TriageView> {
    drafts.and_then(|d| d.triage.as_ref()).map(TriageView::from)
}

/// The brand's guideline checks on `text`, as a reply on `channel` to `inbound` (when known).
pub fn check_text(
    brand: &BrandSetup,
    channel: &str,
    inbound: Option<&InboundMessage>,
    text: &str,
) -> Result<Vec<Violation>, ApiError> {
    let ctx = CheckContext::new(&brand.profile, channel, inbound, &brand.approved)?;
    Ok(check(text, &ctx)
        .iter()
        .map(tact_drafting::Violation::keyed)
        .collect())
}
