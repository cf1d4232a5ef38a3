//! From what the workflow stores to what the API shows. The vocabulary is
//! tact-core's ([`tact_core::review`]); only the API's views differ, derived by `From`.

use tact_workflow::Drafts;

use crate::api::TriageView;

pub fn stored_triage(drafts: Option<&Drafts>) -> Option<TriageView> {
    drafts.and_then(|d| d.triage.as_ref()).map(TriageView::from)
}
