//! The one place where failures become HTTP answers. Every error body is
//! `{"error": {"code": "<snake_case>", "message": "<what was wrong>"}}`; client errors say what
//! was wrong, server errors are logged in full and answered generically.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tact_workflow::{Error as WorkflowError, TransitionError};
use utoipa::ToSchema;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid server configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Service(#[from] tact_service::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the client is told, and with which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    InvalidJson,
    InvalidRequest,
    UnsupportedMediaType,
    PayloadTooLarge,
    Conflict,
    InvalidTransition,
    Timeout,
    QueueFull,
    NotReady,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidJson => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Conflict | ErrorCode::InvalidTransition => StatusCode::CONFLICT,
            ErrorCode::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::QueueFull | ErrorCode::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::Timeout => "timeout",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code a bare status stands for, for responses produced outside the handlers
    /// (unknown routes, timeouts, the body limit).
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::REQUEST_TIMEOUT => ErrorCode::Timeout,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::NotReady,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidRequest,
            s if s.is_client_error() => ErrorCode::InvalidRequest,
            _ => ErrorCode::Internal,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// `Retry-After` for `queue_full`.
    pub retry_after: Option<Duration>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `forbidden`, `not_found`, `invalid_json`,
    /// `invalid_request`, `unsupported_media_type`, `payload_too_large`, `conflict`,
    /// `invalid_transition`, `timeout`, `queue_full`, `not_ready`, `internal`.
    pub code: String,
    /// A sentence naming the problem.
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn queue_full(message: impl Into<String>, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorCode::QueueFull, message)
        }
    }

    /// A server fault: logged in full here, answered without detail.
    pub fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::new(
            ErrorCode::Internal,
            "internal error; the server log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.code.status(), axum::Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let seconds = after.as_secs().max(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<WorkflowError> for ApiError {
    fn from(error: WorkflowError) -> Self {
        let message = error.to_string();
        match error {
            WorkflowError::UnknownMessage(_)
            | WorkflowError::UnknownToken(_)
            | WorkflowError::UnknownDelivery(_) => ApiError::not_found(message),
            WorkflowError::DuplicateMessage(_)
            | WorkflowError::StaleVersion { .. }
            | WorkflowError::DraftingTakenOver { .. } => {
                ApiError::new(ErrorCode::Conflict, message)
            }
            WorkflowError::Transition(
                TransitionError::OverrideReasonRequired(_) | TransitionError::Empty(_),
            ) => ApiError::invalid(message),
            WorkflowError::Transition(
                TransitionError::NotAllowed { .. }
                | TransitionError::NothingProposed
                | TransitionError::AlreadyApproved(_)
                | TransitionError::OwnEdit(_)
                | TransitionError::WrongConnector(..),
            )
            | WorkflowError::NoDrafts(_)
            | WorkflowError::NothingToDeliver(_)
            | WorkflowError::DeliveryConflict { .. } => {
                ApiError::new(ErrorCode::InvalidTransition, message)
            }
            WorkflowError::UnknownCandidate { .. }
            | WorkflowError::InvalidPolicy(_)
            | WorkflowError::Empty { .. } => ApiError::invalid(message),
            WorkflowError::Unauthorized => ApiError::new(ErrorCode::Unauthorized, message),
            WorkflowError::InvalidConfig(_)
            | WorkflowError::Database(_)
            | WorkflowError::Migration(_)
            | WorkflowError::Corrupt { .. }
            | WorkflowError::Randomness(_)
            | WorkflowError::StoreDirectory { .. } => {
                ApiError::internal("workflow store", &message)
            }
        }
    }
}

impl From<tact_service::Error> for ApiError {
    fn from(error: tact_service::Error) -> Self {
        use tact_service::Error as E;
        match error {
            E::Invalid(message) => ApiError::invalid(message),
            E::Workflow(e) => e.into(),
            E::Drafting(e) => e.into(),
            e @ E::Knowledge(_) => ApiError::internal("the knowledge base", &e),
            e @ (E::Config(_) | E::Io { .. }) => ApiError::internal("the service", &e),
        }
    }
}

impl From<tact_drafting::Error> for ApiError {
    fn from(error: tact_drafting::Error) -> Self {
        use tact_drafting::Error as E;
        let message = error.to_string();
        match error {
            E::UnknownChannel { .. }
            | E::WrongBrand { .. }
            | E::InvalidOptions(_)
            | E::PromptTooLong { .. }
            | E::Invalid { .. }
            | E::Syntax { .. }
            | E::Record { .. }
            | E::Profile { .. } => ApiError::invalid(message),
            E::Generate(tact_core::GenerateError::QueueFull { .. }) => {
                ApiError::queue_full(message, Duration::from_secs(5))
            }
            E::Read { .. }
            | E::Classifier(_)
            | E::Template(_)
            | E::Knowledge(_)
            | E::Generate(_) => ApiError::internal("drafting", &message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_name_the_problem_and_server_errors_do_not() {
        let e = ApiError::from(WorkflowError::UnknownMessage("m9".into()));
        assert_eq!(e.code, ErrorCode::NotFound);
        assert!(e.message.contains("m9"));
        let e = ApiError::from(WorkflowError::Corrupt {
            what: "state",
            problem: "secret detail".into(),
        });
        assert_eq!(e.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("secret detail"));
    }

    #[test]
    fn queue_full_carries_retry_after() {
        let response = ApiError::queue_full("full", Duration::from_secs(3)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }
}
