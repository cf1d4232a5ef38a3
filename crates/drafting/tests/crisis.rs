//! The crisis radar on synthetic streams, with the real sentence embedder and the real triage
//! sentiment classifier (and the real chat model for the holding statement): a planted outage
//! is found with its exact messages, a quiet week raises nothing, and one brand's spike is
//! never reported for another.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use tact_core::{InboundMessage, SamplingParams};
use tact_drafting::crisis::{self, CrisisConfig, CrisisRadar, CrisisSummary, ProductSource};
use tact_drafting::triage::Sentiment;
use tact_drafting::triage::classifier::Head;
use tact_drafting::{ApprovedEvidence, BrandProfile, CheckContext, check};
use tact_retrieval::SentenceEmbedder;

/// What a coffee roaster hears on an ordinary day: questions, praise and the odd complaint,
/// two of them about the app, to show that a topic's history is not a spike.
const EVERYDAY: &[&str] = &[
    "Do you ship to Canada?",
    "Loved the Ethiopian Yirgacheffe this morning, so bright and floral",
    "Where is my order? It's been a week since I paid",
    "How do I pause my subscription while I'm travelling?",
    "Is the Colombian roast good for espresso?",
    "Your cold brew concentrate is the best thing in my fridge",
    "Can I change the grind size on my next delivery?",
    "My beans arrived stale, the roast date was two months ago",
    "What time does the Portland cafe open on Sundays?",
    "Do you have any decaf that doesn't taste like cardboard?",
    "Thanks for the handwritten note in my parcel, made my day",
    "Can I buy a gift card for my dad?",
    "The courier left my parcel in the rain and the bag was soaked",
    "Is your packaging compostable?",
    "How long do whole beans stay fresh after opening?",
    "Just tried the holiday blend, absolutely delicious",
    "Do you offer wholesale pricing for offices?",
    "I was charged twice for my subscription this month",
    "Any plans to open a cafe in Seattle?",
    "Which beans would you recommend for a French press?",
    "The barista at your downtown shop was so kind to my kids",
    "Does the app support Apple Pay?",
    "Can I send my order to a different address this time?",
    "Your oat milk latte recipe is amazing",
    "The grinder I bought from you is making a rattling noise",
    "Do you roast on site?",
    "What's the caffeine content of the Sumatra?",
    "My delivery came a day late but the coffee was worth it",
    "Are your farms fair trade certified?",
    "The app was a bit slow to load my rewards yesterday",
];

/// Forty complaints about one outage: the mobile app failing at login and checkout.
const OUTAGE: &[&str] = &[
    "The app keeps crashing every time I try to order",
    "Is the Northwind app down? It won't even open",
    "App crashes as soon as I hit checkout, can't place my order",
    "Can't log in to the app, it just says server error",
    "Your app is completely broken right now",
    "The app froze on the payment screen and now I don't know if I was charged",
    "App won't load my rewards, just a spinning wheel",
    "Mobile order is down? The app errors out every time",
    "Tried to order ahead on the app and it crashed three times",
    "The app logged me out and now it won't let me back in",
    "Is anyone else's Northwind app not working?",
    "App says something went wrong when I try to pay",
    "Can't order from the app this morning, it keeps crashing",
    "Your app has been down for half an hour, I'm standing outside the cafe",
    "The app crashes on launch after the update",
    "Mobile ordering in the app is broken, error on every try",
    "App stuck on the loading screen, can't get my coffee",
    "The app won't accept my card, server error again",
    "Why does the app keep kicking me out?",
    "Northwind app is crashing nonstop, please fix it",
];

const FROM: &str = "2026-03-01T00:00:00Z";
const MINUTE: i64 = 60;
/// Day five, 18:00.
const OUTAGE_START: i64 = (4 * 24 + 18) * 60 * MINUTE;

fn embedder() -> &'static SentenceEmbedder {
    static EMBEDDER: OnceLock<SentenceEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        SentenceEmbedder::load(&tact_e2e::embedding_model_dir()).expect("loading the embedder")
    })
}

fn sentiment() -> &'static Head<Sentiment> {
    static HEAD: OnceLock<Head<Sentiment>> = OnceLock::new();
    HEAD.get_or_init(|| crisis::train_sentiment(embedder()).expect("training sentiment"))
}

fn config() -> CrisisConfig {
    CrisisConfig {
        products: vec!["subscription".into(), "app".into(), "gift card".into()],
        ..CrisisConfig::default()
    }
}

fn at(seconds: i64) -> String {
    let start = chrono::DateTime::parse_from_rfc3339(FROM).unwrap();
    (start + chrono::Duration::seconds(seconds)).to_rfc3339()
}

fn message(id: String, brand: &str, seconds: i64, text: &str) -> InboundMessage {
    InboundMessage::from_json(serde_json::json!({
        "id": id, "brand": brand, "channel": "x", "author": "@someone",
        "text": text, "created_at": at(seconds),
    }))
    .unwrap()
}

/// Five quiet days: a message about every 100 minutes, at uneven times, cycling through the
/// everyday texts, and a few more in the hour the outage (if any) strikes, one of them an
/// unrelated complaint, which must not be counted with it.
fn quiet(brand: &str) -> Vec<InboundMessage> {
    let mut messages: Vec<InboundMessage> = (0..72)
        .map(|i| {
            let seconds = i * 100 * MINUTE + (i * 37 % 41) * MINUTE;
            let text = EVERYDAY[i as usize % EVERYDAY.len()];
            message(format!("{brand}-q{i}"), brand, seconds, text)
        })
        .collect();
    for (k, text) in [EVERYDAY[0], EVERYDAY[7], EVERYDAY[15], EVERYDAY[12]]
        .into_iter()
        .enumerate()
    {
        let seconds = OUTAGE_START + (5 + 14 * k as i64) * MINUTE;
        messages.push(message(format!("{brand}-b{k}"), brand, seconds, text));
    }
    messages
}

/// Forty outage complaints in under an hour on day five, 85 seconds apart; each text is used
/// twice, the second time with a different ending.
fn outage(brand: &str) -> Vec<InboundMessage> {
    (0..40)
        .map(|i| {
            let text = OUTAGE[i as usize % OUTAGE.len()];
            let text = match i / OUTAGE.len() as i64 {
                0 => text.to_owned(),
                _ => format!("{text}. Seriously frustrating."),
            };
            message(format!("{brand}-o{i}"), brand, OUTAGE_START + i * 85, &text)
        })
        .collect()
}

fn scan(brand: &str, stream: &[InboundMessage]) -> Vec<CrisisSummary> {
    CrisisRadar::new(config(), embedder(), sentiment())
        .unwrap()
        .scan(brand, stream)
        .unwrap()
}

fn assert_is_the_outage(summary: &CrisisSummary, stream: &[InboundMessage], brand: &str) {
    let planted: BTreeSet<String> = outage(brand).into_iter().map(|m| m.id).collect();
    let found: BTreeSet<String> = summary.message_ids.iter().cloned().collect();
    assert_eq!(found, planted, "{summary:#?}");
    assert_eq!(summary.messages, 40);
    assert_eq!(summary.since, at(OUTAGE_START));
    assert_eq!(summary.until, outage(brand)[39].created_at);
    assert!(
        summary.keywords.iter().any(|k| k.contains("app")),
        "{summary:#?}"
    );
    assert!(summary.label.contains("app"), "{}", summary.label);
    let affected = summary.affected.as_ref().expect("an affected product");
    assert_eq!(
        (affected.name.as_str(), affected.source),
        ("app", ProductSource::Catalogue)
    );
    assert!(affected.mentions >= 30, "{affected:?}");

    // Quotes are planted messages, verbatim, with their ids.
    assert!((3..=5).contains(&summary.quotes.len()));
    for q in &summary.quotes {
        assert!(planted.contains(&q.id), "{q:?}");
        let original = stream.iter().find(|m| m.id == q.id).unwrap();
        assert_eq!(q.text, original.text);
        assert_eq!(q.created_at, original.created_at);
    }
    // Most of them read as negative to the classifier; never more than there are.
    assert!(summary.negative >= 30, "{} negative", summary.negative);
    assert!(summary.negative <= summary.messages);
}

#[test]
fn crisis_planted_outage_is_found_with_its_count_topic_and_quotes() {
    let mut stream = quiet("northwind");
    stream.extend(outage("northwind"));
    let spikes = scan("northwind", &stream);
    assert_eq!(spikes.len(), 1, "{spikes:#?}");
    assert_is_the_outage(&spikes[0], &stream, "northwind");
    assert_eq!(spikes[0].peak_window, 40);
    assert!(spikes[0].baseline_per_window < 1.0);
}

#[test]
fn crisis_quiet_stream_raises_nothing() {
    assert_eq!(scan("northwind", &quiet("northwind")), []);
    // A stream of no messages of this brand is quiet too.
    assert_eq!(scan("elsewhere", &quiet("northwind")), []);
}

#[test]
fn crisis_in_one_brand_is_not_reported_for_another() {
    let mut stream = quiet("northwind");
    stream.extend(outage("northwind"));
    stream.extend(quiet("harbor"));
    assert_eq!(scan("harbor", &stream), []);
    let spikes = scan("northwind", &stream);
    assert_eq!(spikes.len(), 1);
    assert_is_the_outage(&spikes[0], &stream, "northwind");
}

#[test]
fn crisis_holding_statement_is_generated_and_checked_without_touching_the_numbers() {
    use tact_inference::{ChatModel, Engine, EngineConfig, LoadOptions};

    let mut stream = quiet("northwind");
    stream.extend(outage("northwind"));
    let spikes = scan("northwind", &stream);
    assert_eq!(spikes.len(), 1);
    let mut summary = spikes[0].clone();

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../brands/demo");
    let profile = BrandProfile::load(&dir).unwrap();
    let approved = ApprovedEvidence::default();
    let ctx = CheckContext::new(&profile, "x", None, &approved).unwrap();
    let model = ChatModel::load(&tact_e2e::chat_model_path(), &LoadOptions::default()).unwrap();
    let engine = Engine::start(model, EngineConfig::default()).unwrap();
    let sampling = SamplingParams {
        max_new_tokens: 80,
        ..SamplingParams::greedy()
    };
    let statement = crisis::holding_statement(&summary, &engine, &ctx, sampling).unwrap();
    engine.shutdown();
    eprintln!("holding statement: {statement:#?}");

    assert!(!statement.text.trim().is_empty());
    assert!(
        tact_drafting::postprocess::postprocess(&statement.text, &profile, ctx.channel)
            .changes
            .is_empty()
    );
    assert!(statement.text.chars().count() <= 280);
    // The violations listed are exactly what the guideline checks say about the text.
    assert_eq!(statement.violations, check(&statement.text, &ctx));
    assert_eq!(
        statement.blocked,
        tact_drafting::blocks(&statement.violations)
    );
    assert_eq!(statement.channel, "x");

    // Attaching the statement changes nothing the data said.
    summary.holding_statement = Some(statement);
    let mut without = summary.clone();
    without.holding_statement = None;
    assert_eq!(without, spikes[0]);
    assert_is_the_outage(&summary, &stream, "northwind");
}
