//! The one table of error codes clients can see, with its gRPC and HTTP status.
//!
//! Library errors (`StoreError`, `PkiError`, ...) are classified into an [`ApiError`] at the
//! service edge. Internal errors are logged there with their full cause chain and answered with a
//! generic message: nothing internal is echoed to clients.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    ResourceExhausted,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The error-code table: (gRPC code, HTTP status) per code.
    pub fn grpc(self) -> tonic::Code {
        match self {
            Self::InvalidArgument => tonic::Code::InvalidArgument,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::PermissionDenied => tonic::Code::PermissionDenied,
            Self::NotFound => tonic::Code::NotFound,
            Self::ResourceExhausted => tonic::Code::ResourceExhausted,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::Internal => tonic::Code::Internal,
        }
    }

    pub fn http(self) -> http::StatusCode {
        match self {
            Self::InvalidArgument => http::StatusCode::BAD_REQUEST,
            Self::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => http::StatusCode::FORBIDDEN,
            Self::NotFound => http::StatusCode::NOT_FOUND,
            Self::ResourceExhausted => http::StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as a client sees it: a code and a message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// Logs `error` with its causes and returns a generic internal error.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut causes = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        tracing::error!(error = %error, causes = ?causes, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        tonic::Status::new(error.code.grpc(), error.message)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::TokenRefused(reason) => {
                tracing::info!(%reason, "enrollment token refused");
                Self::new(ErrorCode::Unauthenticated, "invalid enrollment token")
            }
            StoreError::UnknownAgent(_) => Self::new(ErrorCode::Unauthenticated, "unknown agent"),
            StoreError::AgentRevoked(_) => Self::new(ErrorCode::PermissionDenied, "agent revoked"),
            StoreError::SequenceOutOfRange(sequence) => {
                Self::new(ErrorCode::InvalidArgument, StoreError::SequenceOutOfRange(sequence).to_string())
            }
            StoreError::InvalidCursor(_) => {
                Self::new(ErrorCode::InvalidArgument, "cursor: not a cursor this server issued")
            }
            other => Self::internal(&other),
        }
    }
}

/// Why an admin action (a use-case shared by the CLI and HTTP) was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Bad input: the message names the field and what it accepts.
    #[error("{0}")]
    Invalid(String),
    /// The thing acted on does not exist (or is no longer active).
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ActionError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> Self {
        match error {
            ActionError::Invalid(message) => Self::new(ErrorCode::InvalidArgument, message),
            ActionError::NotFound(message) => Self::new(ErrorCode::NotFound, message),
            ActionError::Store(error) => Self::from(error),
            ActionError::Internal(error) => Self::internal(&*error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_matching_grpc_and_http_statuses() {
        let table = [
            (ErrorCode::InvalidArgument, tonic::Code::InvalidArgument, 400),
            (ErrorCode::Unauthenticated, tonic::Code::Unauthenticated, 401),
            (ErrorCode::PermissionDenied, tonic::Code::PermissionDenied, 403),
            (ErrorCode::NotFound, tonic::Code::NotFound, 404),
            (ErrorCode::ResourceExhausted, tonic::Code::ResourceExhausted, 429),
            (ErrorCode::Unavailable, tonic::Code::Unavailable, 503),
            (ErrorCode::Internal, tonic::Code::Internal, 500),
        ];
        for (code, grpc, http) in table {
            assert_eq!(code.grpc(), grpc);
            assert_eq!(code.http().as_u16(), http);
        }
    }

    #[test]
    fn internal_errors_are_not_echoed() {
        let error = std::io::Error::other("secret path /etc/shadow");
        let api = ApiError::internal(&error);
        assert!(!api.message.contains("shadow"));
        assert_eq!(tonic::Status::from(api).code(), tonic::Code::Internal);
    }
}
