//! Webhook administration: the use-cases the admin API and the webhooks page share (register an
//! endpoint, delete one). They return an [`AuditEvent`] and never see HTTP; delivering is the
//! worker's (`super::WebhookWorker`).

use muster_proto::v1::Severity;
use muster_proto::words::WireWord as _;

use super::{WebhookError, register};
use crate::audit::AuditEvent;
use crate::error::ActionError;
use crate::store::Store;
use crate::store::exports::NewWebhook;

/// Longest accepted receiver URL.
pub const MAX_URL_LEN: usize = 2000;

/// The use-case: registers `url` for findings of at least `min_severity` (`high`, the default, or
/// `critical`); the endpoint with its signing secret (shown once) and the audit event.
pub async fn create(
    store: &dyn Store,
    url: &str,
    min_severity: Option<&str>,
) -> Result<(NewWebhook, AuditEvent), ActionError> {
    let min = match min_severity.map(str::trim).filter(|text| !text.is_empty()) {
        None | Some("high") => Severity::High,
        Some("critical") => Severity::Critical,
        Some(_) => return Err(ActionError::invalid("min_severity: high or critical")),
    };
    let url = url.trim();
    if url.len() > MAX_URL_LEN {
        return Err(ActionError::invalid("url: at most 2000 characters"));
    }
    let webhook = register(store, url, min).await.map_err(|error| match error {
        WebhookError::InvalidUrl(_) => ActionError::invalid("url: an absolute http or https URL"),
        WebhookError::Store(error) => ActionError::Store(error),
        other => ActionError::internal(other),
    })?;
    // The host only: receivers such as chat services carry their own secret in the URL path.
    let host = reqwest::Url::parse(&webhook.url).ok().and_then(|url| url.host_str().map(str::to_string));
    let audit = AuditEvent::new("webhook.create", &webhook.id).detail(&format!(
        "host {}, min severity {}",
        host.unwrap_or_default(),
        Severity::word_of(webhook.min_severity)
    ));
    Ok((webhook, audit))
}

/// The use-case: deletes an endpoint and its delivery log; the audit event.
pub async fn delete(store: &dyn Store, id: &str) -> Result<AuditEvent, ActionError> {
    if !store.delete_webhook(id).await? {
        return Err(ActionError::not_found("no webhook with this id"));
    }
    Ok(AuditEvent::new("webhook.delete", id))
}
