//! Errors on the HTTP listener: an [`ApiError`] from the shared error-code table becomes a JSON
//! body `{"code": "...", "message": "..."}` with the table's HTTP status. Messages are the safe
//! ones `ApiError` carries; internal errors were already logged and reduced to "internal error".

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode};

/// The error body every `/api/v1` call answers with on failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `invalid_argument`, `not_found`.
    pub code: String,
    /// A message safe to show; never internal details.
    pub message: String,
}

impl ErrorCode {
    /// The stable snake_case name used in JSON bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::ResourceExhausted => "resource_exhausted",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code.as_str(), "message": self.message });
        (self.code.http(), axum::Json(body)).into_response()
    }
}

/// Whether `path` belongs to the JSON API (errors as JSON, no login redirects).
pub(crate) fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The fallback for paths no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such page")
}
