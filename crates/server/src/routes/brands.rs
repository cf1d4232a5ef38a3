//! Brands: their channels and approval policy, guidelines, and crisis summaries.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use tact_drafting::BrandProfile;
use tact_service::BrandSetup;

use crate::api::{
    BrandDetail, BrandList, BrandView, ChannelView, ClauseView, CrisisView, GuidelineDocumentView,
    GuidelinesUpdate, GuidelinesView, PolicyView,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Agent, ApiJson, Caller, RoleGate};
use crate::state::AppState;

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
    brand_or_404(&state, &caller, &id)?;
    let profile = state
        .replace_guideline(&id, &body.document, &body.markdown)
        .await?;
    Ok(Json(GuidelinesView {
        documents: documents(&profile),
    }))
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
    let summaries = state.crisis(brand, Utc::now()).await?;
    Ok(Json(CrisisView {
        active: policy.crisis_mode,
        summaries: summaries
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .collect(),
    }))
}
