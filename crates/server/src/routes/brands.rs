//! Brands: their channels and approval policy, guidelines, and crisis summaries.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use tact_drafting::BrandProfile;
use tact_drafting::crisis::{self, CrisisRadar};
use tact_retrieval::guideline_entries;
use tact_workflow::MessageFilter;

use crate::api::{
    BrandDetail, BrandList, BrandView, ChannelView, ClauseView, CrisisView, GuidelineDocumentView,
    GuidelinesUpdate, GuidelinesView, PolicyView,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Agent, ApiJson, Caller, RoleGate};
use crate::state::{AppState, BrandSetup};

/// Messages the crisis radar scans.
const CRISIS_WINDOW: u32 = 2000;

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
    let entries = guideline_entries(&id, &body.document, &body.markdown);
    if let Err(e) = state
        .models
        .knowledge
        .ingest(entries, true, &|_, _| {})
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
    let messages: Vec<_> = state
        .workflow()
        .queue(&MessageFilter {
            brand: Some(id.clone()),
            limit: Some(CRISIS_WINDOW),
            ..MessageFilter::default()
        })
        .await?
        .into_iter()
        .map(|r| r.inbound)
        .collect();
    let scan_state = state.clone();
    let summaries = tokio::task::spawn_blocking(move || {
        let embedder = scan_state.models.embedder.clone();
        let head = match scan_state.sentiment.get() {
            Some(head) => head.clone(),
            None => {
                let head = Arc::new(crisis::train_sentiment(embedder.as_ref())?);
                scan_state.sentiment.get_or_init(|| head).clone()
            }
        };
        let radar = CrisisRadar::new(brand.crisis.clone(), embedder.as_ref(), &head)?;
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
