//! Brands: their channels and approval policy, guidelines, and crisis summaries.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use tact_core::InboundMessage;
use tact_drafting::BrandProfile;
use tact_drafting::crisis::{CrisisConfig, CrisisRadar};
use tact_workflow::{MessageFilter, QueueOrder, Workflow};

use crate::api::{
    BrandDetail, BrandList, BrandView, ChannelView, ClauseView, CrisisView, GuidelineDocumentView,
    GuidelinesUpdate, GuidelinesView, PolicyView,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Agent, ApiJson, Caller, RoleGate};
use crate::state::{AppState, BrandSetup};

/// Most messages the crisis radar scans: the newest of its horizon. A brand that received
/// more within the horizon has its baseline cut short (the radar then compares with as much
/// baseline as it got); its recent window is always scanned.
const CRISIS_MESSAGES: u32 = 5000;

fn brand_or_404<R: RoleGate>(
    state: &AppState,
    caller: &Caller<R>,
    id: &str,
) -> ApiResult<Arc<BrandSetup>> {
    caller.require_brand(id)?;
    state
        .brand(id)
        .ok_or_else(|| ApiError::not_found(format!("this server does not serve brand {id:?}")))
}

async fn brand_view(state: &AppState, brand: &BrandSetup) -> ApiResult<BrandView> {
    let policy = state.workflow().policy(&brand.profile.id).await?;
    Ok(BrandView {
        id: brand.profile.id.clone(),
        name: brand.profile.name.clone(),
        default_channel: brand.profile.default_channel.clone(),
        channels: brand
            .profile
            .channels
            .iter()
            .map(|(id, c)| ChannelView {
                id: id.clone(),
                label: c.label.clone(),
                max_chars: c.max_chars,
            })
            .collect(),
        crisis_mode: policy.crisis_mode,
    })
}

/// The brands the token covers.
#[utoipa::path(get, path = "/api/v1/brands", tag = "brands", responses((status = 200, body = BrandList)))]
pub async fn list(caller: Agent, State(state): State<AppState>) -> ApiResult<Json<BrandList>> {
    let mut brands = Vec::new();
    for id in state.brand_ids() {
        if let (true, Some(brand)) = (caller.token.brands.allows(&id), state.brand(&id)) {
            brands.push(brand_view(&state, &brand).await?);
        }
    }
    Ok(Json(BrandList { brands }))
}

/// One brand with its policy and guideline documents.
#[utoipa::path(get, path = "/api/v1/brands/{brand}", tag = "brands",
    params(("brand" = String, Path, description = "Brand id")),
    responses((status = 200, body = BrandDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<BrandDetail>> {
    let brand = brand_or_404(&state, &caller, &id)?;
    let policy = state.workflow().policy(&id).await?;
    Ok(Json(BrandDetail {
        brand: brand_view(&state, &brand).await?,
        policy: policy.into(),
        guidelines: documents(&brand.profile)
            .into_iter()
            .map(|d| d.document)
            .collect(),
    }))
}

/// Replace the brand's approval policy.
#[utoipa::path(put, path = "/api/v1/brands/{brand}/policy", tag = "brands",
    params(("brand" = String, Path, description = "Brand id")),
    request_body = PolicyView,
    responses((status = 200, body = PolicyView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_policy(
    caller: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PolicyView>,
) -> ApiResult<Json<PolicyView>> {
    brand_or_404(&state, &caller, &id)?;
    let policy = body.into_policy().map_err(ApiError::invalid)?;
    policy.validate()?;
    state.workflow().set_policy(&id, &policy).await?;
    Ok(Json(state.workflow().policy(&id).await?.into()))
}

/// Guideline clauses grouped by document (the clause id starts with the file name).
fn documents(profile: &BrandProfile) -> Vec<GuidelineDocumentView> {
    let mut documents: Vec<GuidelineDocumentView> = Vec::new();
    for clause in profile.guidelines.clauses() {
        let document = clause.id.split(" > ").next().unwrap_or("").to_owned();
        let view = ClauseView {
            id: clause.id.clone(),
            text: clause.text.clone(),
        };
        match documents.iter_mut().find(|d| d.document == document) {
            Some(d) => d.clauses.push(view),
            None => documents.push(GuidelineDocumentView {
                document,
                clauses: vec![view],
            }),
        }
    }
    documents
}

/// The brand's guideline clauses.
#[utoipa::path(get, path = "/api/v1/brands/{brand}/guidelines", tag = "brands",
    params(("brand" = String, Path, description = "Brand id")),
    responses((status = 200, body = GuidelinesView)))]
pub async fn get_guidelines(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<GuidelinesView>> {
    let brand = brand_or_404(&state, &caller, &id)?;
    Ok(Json(GuidelinesView {
        documents: documents(&brand.profile),
    }))
}

/// Replace one guideline document (a file `brand.toml` lists). The brand is reloaded with it
/// and its clauses re-ingested; if the brand does not load with the new text (a rule cites a
/// clause it no longer has), the old file is kept and the error says why.
#[utoipa::path(put, path = "/api/v1/brands/{brand}/guidelines", tag = "brands",
    params(("brand" = String, Path, description = "Brand id")),
    request_body = GuidelinesUpdate,
    responses((status = 200, body = GuidelinesView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_guidelines(
    caller: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GuidelinesUpdate>,
) -> ApiResult<Json<GuidelinesView>> {
    let brand = brand_or_404(&state, &caller, &id)?;
    if body.markdown.trim().is_empty() {
        return Err(ApiError::invalid("`markdown` must not be empty"));
    }
    let dir = brand.dir.clone().ok_or_else(|| {
        ApiError::invalid(format!(
            "brand {id:?} was not loaded from a folder; its guidelines are read-only"
        ))
    })?;
    let _one_at_a_time = state.guideline_updates.lock().await;
    let listed = listed_documents(&dir)?;
    if !listed.contains(&body.document) {
        return Err(ApiError::invalid(format!(
            "`document` must be one of the guideline files of brand.toml ({}), got {:?}",
            listed.join(", "),
            body.document
        )));
    }
    let path = dir.join(&body.document);
    let old = std::fs::read_to_string(&path)
        .map_err(|e| ApiError::internal("reading a guideline file", &e))?;
    std::fs::write(&path, &body.markdown)
        .map_err(|e| ApiError::internal("writing a guideline file", &e))?;
    let load_dir = dir.clone();
    let loaded = tokio::task::spawn_blocking(move || BrandProfile::load(&load_dir))
        .await
        .map_err(|e| ApiError::internal("loading the brand", &e))?;
    let restore = |path: &FsPath| {
        if let Err(e) = std::fs::write(path, &old) {
            tracing::error!(error = %e, file = %path.display(), "cannot restore a guideline file");
        }
    };
    let profile = match loaded {
        Ok(profile) => profile,
        Err(e) => {
            restore(&path);
            return Err(ApiError::invalid(format!(
                "the brand does not load with this document, so it was not saved: {e}"
            )));
        }
    };
    if let Err(e) = state
        .models
        .knowledge
        .replace_guidelines(&id, &body.document, &body.markdown)
        .await
    {
        restore(&path);
        return Err(ApiError::internal("ingesting guidelines", &e));
    }
    let documents = documents(&profile);
    state.replace_brand(BrandSetup {
        profile,
        ..(*brand).clone()
    });
    Ok(Json(GuidelinesView { documents }))
}

fn listed_documents(dir: &FsPath) -> ApiResult<Vec<String>> {
    let path = dir.join("brand.toml");
    let text =
        std::fs::read_to_string(&path).map_err(|e| ApiError::internal("reading brand.toml", &e))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| ApiError::internal("parsing brand.toml", &e))?;
    Ok(table
        .get("guidelines")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Whether the brand is in crisis mode, and spikes of complaints in its recent messages.
#[utoipa::path(get, path = "/api/v1/brands/{brand}/crisis", tag = "brands",
    params(("brand" = String, Path, description = "Brand id")),
    responses((status = 200, body = CrisisView)))]
pub async fn crisis(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<CrisisView>> {
    let brand = brand_or_404(&state, &caller, &id)?;
    let policy = state.workflow().policy(&id).await?;
    let messages = crisis_stream(
        state.workflow(),
        &id,
        &brand.crisis,
        Utc::now(),
        CRISIS_MESSAGES,
    )
    .await?;
    let scan_state = state.clone();
    let summaries = tokio::task::spawn_blocking(move || {
        // Triage's sentiment head: trained once at start-up on the same labelled set.
        let embedder = scan_state.models.embedder.clone();
        let radar = CrisisRadar::new(
            brand.crisis.clone(),
            embedder.as_ref(),
            &scan_state.triage.sentiment,
        )?;
        radar.scan(&id, &messages)
    })
    .await
    .map_err(|e| ApiError::internal("crisis scan", &e))??;
    Ok(Json(CrisisView {
        active: policy.crisis_mode,
        summaries: summaries
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .collect(),
    }))
}

/// What the crisis radar scans of `brand` at `now`: the messages received within its horizon
/// (the baseline and one window before `now`), at most the newest `cap`, oldest first as a
/// stream reads.
async fn crisis_stream(
    workflow: &Workflow,
    brand: &str,
    config: &CrisisConfig,
    now: DateTime<Utc>,
    cap: u32,
) -> Result<Vec<InboundMessage>, tact_workflow::Error> {
    let horizon = Duration::hours(i64::from(config.baseline_hours))
        + Duration::minutes(i64::from(config.window_minutes));
    let mut newest_first = workflow
        .queue(&MessageFilter {
            brand: Some(brand.to_owned()),
            received_since: Some(now - horizon),
            order: QueueOrder::NewestFirst,
            limit: Some(cap),
            ..MessageFilter::default()
        })
        .await?;
    // The radar orders by `created_at` itself; this only hands it the stream as it arrived.
    newest_first.reverse();
    Ok(newest_first.into_iter().map(|r| r.inbound).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tact_workflow::audit::{AuditAction, NewAuditEntry};
    use tact_workflow::{SqliteStore, Status};

    async fn receive(workflow: &Workflow, id: &str, brand: &str, at: DateTime<Utc>) {
        let inbound = InboundMessage::from_json(serde_json::json!({
            "id": id, "brand": brand, "channel": "x", "author": "@sam",
            "text": "The app crashes at checkout.", "created_at": at.to_rfc3339(),
        }))
        .unwrap();
        let audit = NewAuditEntry {
            actor: "inbound:test".into(),
            action: AuditAction::Received,
            from: None,
            to: Status::Received,
            at,
            draft_text: None,
            final_text: None,
            note: None,
        };
        workflow
            .store()
            .insert_message(&inbound, audit)
            .await
            .unwrap();
    }

    fn ids(stream: &[InboundMessage]) -> Vec<&str> {
        stream.iter().map(|m| m.id.as_str()).collect()
    }

    #[tokio::test]
    async fn the_radar_scans_the_newest_messages_within_its_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let workflow = Workflow::new(Arc::new(SqliteStore::open(dir.path()).await.unwrap()));
        let now = Utc::now();
        let config = CrisisConfig::default();
        // A busy past, more messages than the cap, all older than the baseline reaches.
        for i in 0..60 {
            let at = now - Duration::days(30) + Duration::minutes(i);
            receive(&workflow, &format!("old-{i:02}"), "acme", at).await;
        }
        for i in 0..5 {
            let at = now - Duration::days(3) + Duration::minutes(i);
            receive(&workflow, &format!("baseline-{i}"), "acme", at).await;
        }
        for i in 0..30 {
            let at = now - Duration::minutes(30) + Duration::seconds(i);
            receive(&workflow, &format!("spike-{i:02}"), "acme", at).await;
        }
        receive(&workflow, "elsewhere", "globex", now - Duration::minutes(1)).await;

        let stream = crisis_stream(&workflow, "acme", &config, now, 1000)
            .await
            .unwrap();
        let mut expected: Vec<String> = (0..5).map(|i| format!("baseline-{i}")).collect();
        expected.extend((0..30).map(|i| format!("spike-{i:02}")));
        assert_eq!(ids(&stream), expected, "the horizon, oldest first");

        // Over the cap, the newest are kept: the spike, not the baseline.
        let stream = crisis_stream(&workflow, "acme", &config, now, 25)
            .await
            .unwrap();
        assert_eq!(ids(&stream), expected[10..], "the newest 25, oldest first");
    }
}
