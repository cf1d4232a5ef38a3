//! API tokens: who the caller is, and (admins) issuing, listing and revoking tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tact_workflow::{BrandScope, Role};

use crate::api::{IssuedTokenView, MeView, TokenList, TokenRequest, TokenView, scope_list};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Agent, ApiJson};
use crate::state::AppState;

/// The calling token (the extension's "test connection").
#[utoipa::path(get, path = "/api/v1/me", tag = "tokens", responses((status = 200, body = MeView)))]
pub async fn me(caller: Agent) -> Json<MeView> {
    Json(MeView {
        brands: scope_list(&caller.token.brands),
        token_id: caller.token.id,
        label: caller.token.label,
        role: caller.token.role.as_str().to_owned(),
    })
}

/// Issue a token; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    request_body = TokenRequest,
    responses((status = 201, body = IssuedTokenView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    caller: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<IssuedTokenView>)> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::invalid(format!(
            "invalid field `role`: expected `agent`, `approver` or `admin`, got {:?}",
            body.role
        ))
    })?;
    let brands = parse_scope(&body.brands).map_err(ApiError::invalid)?;
    // A token scoped to some brands cannot issue one that reaches further.
    if let (BrandScope::Only(mine), requested) = (&caller.token.brands, &brands) {
        let within = match requested {
            BrandScope::All => false,
            BrandScope::Only(theirs) => theirs.iter().all(|b| mine.contains(b)),
        };
        if !within {
            return Err(ApiError::forbidden(
                "a token can only issue tokens for brands it covers itself",
            ));
        }
    }
    let issued = state
        .workflow()
        .create_token(&body.label, role, brands)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedTokenView {
            token: issued.token.into(),
            secret: issued.secret,
        }),
    ))
}

/// `["*"]` is every brand; otherwise a list of brand ids.
pub fn parse_scope(brands: &[String]) -> Result<BrandScope, String> {
    if brands.is_empty() {
        return Err("`brands` must list brand ids, or be [\"*\"] for all".into());
    }
    if brands.iter().any(|b| b == "*") {
        if brands.len() > 1 {
            return Err("`brands`: \"*\" stands alone".into());
        }
        return Ok(BrandScope::All);
    }
    if brands.iter().any(|b| b.trim().is_empty()) {
        return Err("`brands` must not contain an empty brand id".into());
    }
    Ok(BrandScope::Only(brands.to_vec()))
}

/// Every token (secrets are never shown again).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = TokenList)))]
pub async fn list(_caller: Admin, State(state): State<AppState>) -> ApiResult<Json<TokenList>> {
    let tokens = state.workflow().store().tokens().await?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(TokenView::from).collect(),
    }))
}

/// Revoke a token; it is refused from then on.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke(
    _caller: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.workflow().revoke_token(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
