//! Request extractors: a JSON body whose rejections name the problem ([`ApiJson`]) and the
//! authenticated caller with a minimum role ([`Caller`]).

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tact_workflow::{ApiToken, Role};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A JSON request body. Rejections: 415 without a JSON content type, 413 over the body limit,
/// 400 `invalid_json` for invalid UTF-8 or malformed JSON, 422 `invalid_request` naming the
/// field whose value has the wrong type or is missing.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !is_json(&content_type) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                if content_type.is_empty() {
                    "the request has no Content-Type; send `Content-Type: application/json`"
                        .to_owned()
                } else {
                    format!("Content-Type {content_type:?} is not JSON; send `application/json`")
                },
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is over the size limit (server.body_limit_bytes)",
        );
    }
    ApiError::new(
        ErrorCode::InvalidJson,
        format!("cannot read the request body: {}", rejection.body_text()),
    )
}

/// Parses a JSON body, telling syntax errors (400) from values of the wrong shape (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            format!(
                "the request body is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let syntax = |e: &serde_json::Error| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )
    };
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| syntax(&e))?;
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    Err(syntax(&inner))
                }
                serde_json::error::Category::Data | serde_json::error::Category::Io => {
                    if path.is_empty() || path == "." {
                        Err(ApiError::invalid(format!("invalid request body: {inner}")))
                    } else {
                        Err(ApiError::invalid(format!(
                            "invalid field `{path}`: {inner}"
                        )))
                    }
                }
            }
        }
    }
}

/// The minimum role a route needs.
pub trait RoleGate: Send + Sync + 'static {
    const ROLE: Role;
}

#[derive(Debug)]
pub struct AgentRole;
#[derive(Debug)]
pub struct ApproverRole;
#[derive(Debug)]
pub struct AdminRole;

impl RoleGate for AgentRole {
    const ROLE: Role = Role::Agent;
}
impl RoleGate for ApproverRole {
    const ROLE: Role = Role::Approver;
}
impl RoleGate for AdminRole {
    const ROLE: Role = Role::Admin;
}

/// The caller, authenticated by `Authorization: Bearer <token>` and holding at least
/// `R::ROLE` (roles are ordered agent < approver < admin). 401 without a live token, 403 with
/// too low a role. It runs before the body is read, so a refused caller learns nothing about
/// the body's validity.
#[derive(Debug)]
pub struct Caller<R: RoleGate = AgentRole> {
    pub token: ApiToken,
    role: PhantomData<R>,
}

pub type Agent = Caller<AgentRole>;
pub type Approver = Caller<ApproverRole>;
pub type Admin = Caller<AdminRole>;

impl<R: RoleGate> Caller<R> {
    /// How the caller appears in the audit log.
    pub fn actor(&self) -> String {
        format!("{} ({})", self.token.label, self.token.id)
    }

    /// 403 unless the token's scope includes `brand`.
    pub fn require_brand(&self, brand: &str) -> Result<(), ApiError> {
        if self.token.brands.allows(brand) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this token is not allowed to act for brand {brand:?}"
            )))
        }
    }
}

impl<R: RoleGate> FromRequestParts<AppState> for Caller<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = authenticate(parts, state).await?;
        if token.role < R::ROLE {
            return Err(ApiError::forbidden(format!(
                "this needs the {} role; the token has {}",
                R::ROLE.as_str(),
                token.role.as_str()
            )));
        }
        Ok(Self {
            token,
            role: PhantomData,
        })
    }
}

/// The live token of the request's bearer secret.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<ApiToken, ApiError> {
    let unauthorized = |message: &str| ApiError::new(ErrorCode::Unauthorized, message);
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let secret = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    match state.workflow().authenticate(secret).await {
        Ok(token) => Ok(token),
        Err(tact_workflow::Error::Unauthorized) => {
            Err(unauthorized("unknown or revoked API token"))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        version: i64,
        reason: String,
    }

    #[test]
    fn syntax_errors_are_400_and_wrong_types_name_the_field() {
        let e = parse_json::<Body>(b"{\"version\": 1,").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        let e = parse_json::<Body>(br#"{"version": "one", "reason": "x"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("`version`"), "{}", e.message);
        let e = parse_json::<Body>(br#"{"version": 1}"#).unwrap_err();
        assert!(e.message.contains("reason"), "{}", e.message);
        let e = parse_json::<Body>(b"{\"version\": 1, \"reason\": \"\xff\"}").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        assert!(e.message.contains("UTF-8"));
        let e = parse_json::<Body>(br#"{"version": 1, "reason": "x"} trailing"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
