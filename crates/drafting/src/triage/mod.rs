//! Triage of an inbound message: what it is about and how it feels (a classifier over sentence
//! embeddings, [`classifier`]), and whether a person must take it without a draft (escalation
//! topics and abuse, [`screening`]).

pub mod classifier;
pub mod labels;
pub mod screening;

use serde::Serialize;

pub use classifier::{TrainOptions, TriageAccuracy, TriageClassifier, TriagePrediction};
pub use labels::{Intent, LabelledMessage, Sentiment, TriageLabels, Urgency, labelled_set};
pub use screening::{AbuseFlag, AbuseKind, EscalationHit};

use crate::profile::BrandProfile;

/// What happens to a message next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Draft replies for a person to review.
    Draft,
    /// Hand to a person without a draft.
    Escalate,
}

/// The deterministic half of triage: escalation topics and abuse, and the route they imply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Screening {
    pub route: Route,
    pub escalations: Vec<EscalationHit>,
    pub abuse: Option<AbuseFlag>,
}

/// Screens a message. An escalation topic or a threat sends it to a person without a draft;
/// profanity and insults only flag it, since an angry customer still deserves a reply.
pub fn screen(text: &str, profile: &BrandProfile) -> Screening {
    let escalations = screening::escalations(text, profile);
    let abuse = screening::abuse(text);
    let threat = abuse
        .as_ref()
        .is_some_and(|a| a.kinds.contains(&AbuseKind::Threat));
    let route = if escalations.is_empty() && !threat {
        Route::Draft
    } else {
        Route::Escalate
    };
    Screening {
        route,
        escalations,
        abuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn escalation_topics_and_threats_route_to_a_person() {
        let profile = fixture::profile();
        let s = screen("Refund me by Friday or I take legal action.", &profile);
        assert_eq!(s.route, Route::Escalate);
        assert_eq!(s.escalations[0].topic, "legal_threat");
        let s = screen("Do that again and you'll regret it", &profile);
        assert_eq!(s.route, Route::Escalate);
        assert!(s.escalations.is_empty());
    }

    #[test]
    fn insults_are_flagged_but_still_drafted() {
        let profile = fixture::profile();
        let s = screen("You clowns lost my beans again", &profile);
        assert_eq!(s.route, Route::Draft);
        assert_eq!(s.abuse.unwrap().kinds, [AbuseKind::Insult]);
        let s = screen("Where is my order? It's been a week.", &profile);
        assert_eq!(
            s,
            Screening {
                route: Route::Draft,
                escalations: vec![],
                abuse: None
            }
        );
    }
}
