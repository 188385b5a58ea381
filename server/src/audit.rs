//! Append-only audit trail of integrator API actions: who (merchant, or "anonymous" for a
//! refused key), what (method and route), when, which reference (session id, merchant_ref),
//! the outcome and the client address. Never request bodies, never biometric data.
//!
//! Every entry's hash covers the previous entry's hash, so removing, inserting or editing a
//! row breaks the chain at that row; `thirdfactor audit verify` recomputes it and prints the
//! head hash, which an operator can anchor elsewhere (a ticket, a log shipper) so that even a
//! rewrite of the whole table is detectable.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::startup::AppState;
use crate::store::{Store, StoreError, now_ms};

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audited action, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// Outcome and context as compact JSON.
    pub detail: String,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The chained hash of an entry: SHA-256 over the previous hash and every field, each
/// length-prefixed so no two different entries serialise alike.
pub fn chain_hash(prev_hash: &str, seq: i64, event: &AuditEvent) -> String {
    let mut h = Sha256::new();
    for part in
        [prev_hash, &seq.to_string(), &event.at.to_string(), &event.actor, &event.action, &event.target, &event.detail]
    {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Where the chain breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChainStatus {
    Intact { entries: u64, head_seq: i64, head_hash: String },
    Broken { seq: i64, reason: String },
}

/// Checks a run of entries in `seq` order, continuing from `(prev_seq, prev_hash)`.
pub fn verify_run(prev: (i64, &str), entries: &[AuditEntry]) -> Result<(i64, String), ChainStatus> {
    let (mut prev_seq, mut prev_hash) = (prev.0, prev.1.to_string());
    for e in entries {
        let broken = |reason: String| ChainStatus::Broken { seq: e.seq, reason };
        if e.seq != prev_seq + 1 {
            return Err(broken(format!("entry {} follows {}: entries were removed or inserted", e.seq, prev_seq)));
        }
        if e.prev_hash != prev_hash {
            return Err(broken("its previous-hash does not match the entry before it".into()));
        }
        let event = AuditEvent {
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            detail: e.detail.clone(),
        };
        if chain_hash(&e.prev_hash, e.seq, &event) != e.hash {
            return Err(broken("its contents do not match its hash: the entry was altered".into()));
        }
        prev_seq = e.seq;
        prev_hash = e.hash.clone();
    }
    Ok((prev_seq, prev_hash))
}

/// Verifies the whole stored chain, a page at a time.
pub async fn verify_chain(store: &Store) -> Result<ChainStatus, StoreError> {
    const PAGE: i64 = 1000;
    let (mut seq, mut hash, mut entries) = (0_i64, GENESIS.to_string(), 0_u64);
    loop {
        let page = store.audit_entries_after(seq, PAGE).await?;
        if page.is_empty() {
            return Ok(ChainStatus::Intact { entries, head_seq: seq, head_hash: hash });
        }
        match verify_run((seq, &hash), &page) {
            Ok((s, h)) => (seq, hash) = (s, h),
            Err(broken) => return Ok(broken),
        }
        entries += page.len() as u64;
    }
}

/// The merchant an API key authenticated, left in the request for the audit middleware.
#[derive(Debug, Clone)]
pub struct AuditActor(pub String);

/// The end user's reference an action concerns, when the path doesn't carry it.
#[derive(Debug, Clone)]
pub struct AuditReference(pub String);

/// Notes the merchant_ref an action concerns (e.g. from a request body).
pub fn note_reference(req: &HttpRequest, merchant_ref: &str) {
    req.extensions_mut().insert(AuditReference(merchant_ref.to_string()));
}

/// Middleware: records every request that reached an `/api/v1/` route, after it completed.
/// An action that cannot be audited is logged as an error; the response already happened.
pub async fn record_api_actions(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let response = next.call(req).await?;
    let Some(route) = response.request().match_pattern().filter(|p| p.starts_with("/api/v1/")) else {
        return Ok(response);
    };
    let Some(state) = state else { return Ok(response) };
    let event = event_of(response.request(), &response, &route, client);
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, action = %event.action, "audit entry could not be written");
    }
    Ok(response)
}

fn event_of<B>(req: &HttpRequest, response: &ServiceResponse<B>, route: &str, client: String) -> AuditEvent {
    let ext = req.extensions();
    let actor = ext.get::<AuditActor>().map(|a| a.0.clone()).unwrap_or_else(|| "anonymous".into());
    let info = req.match_info();
    let session = info.get("id").map(str::to_owned).or_else(|| {
        let location = response.headers().get("Location")?.to_str().ok()?;
        location.rsplit('/').next().map(str::to_owned)
    });
    let reference =
        info.get("merchant_ref").map(str::to_owned).or_else(|| ext.get::<AuditReference>().map(|r| r.0.clone()));
    let target = match (session, reference) {
        (Some(s), Some(r)) => format!("session:{s} ref:{r}"),
        (Some(s), None) => format!("session:{s}"),
        (None, Some(r)) => format!("ref:{r}"),
        (None, None) => String::new(),
    };
    let detail = serde_json::json!({ "status": response.status().as_u16(), "client": client }).to_string();
    AuditEvent { at: now_ms(), actor, action: format!("{} {}", req.method(), route), target, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> AuditEvent {
        AuditEvent {
            at: n,
            actor: "1".into(),
            action: "GET /api/v1/sessions/{id}".into(),
            target: format!("session:{n}"),
            detail: "{}".into(),
        }
    }

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let e = event(seq);
                let hash = chain_hash(&prev, seq, &e);
                let entry = AuditEntry {
                    seq,
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                entry
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies_and_every_kind_of_tampering_is_named() {
        let entries = chain(5);
        assert_eq!(verify_run((0, GENESIS), &entries).map(|(s, _)| s), Ok(5));

        let mut edited = entries.clone();
        edited[2].target = "session:forged".into();
        assert!(matches!(verify_run((0, GENESIS), &edited), Err(ChainStatus::Broken { seq: 3, .. })));

        let mut removed = entries.clone();
        removed.remove(1);
        assert!(matches!(verify_run((0, GENESIS), &removed), Err(ChainStatus::Broken { seq: 3, .. })));

        // Rehashing an edited entry still breaks the link from the next one.
        let mut rehashed = entries.clone();
        rehashed[1].actor = "2".into();
        let e = AuditEvent {
            at: rehashed[1].at,
            actor: "2".into(),
            action: rehashed[1].action.clone(),
            target: rehashed[1].target.clone(),
            detail: rehashed[1].detail.clone(),
        };
        rehashed[1].hash = chain_hash(&rehashed[1].prev_hash, 2, &e);
        assert!(matches!(verify_run((0, GENESIS), &rehashed), Err(ChainStatus::Broken { seq: 3, .. })));
    }

    #[test]
    fn field_boundaries_are_part_of_the_hash() {
        let a = AuditEvent { actor: "ab".into(), action: "c".into(), ..event(1) };
        let b = AuditEvent { actor: "a".into(), action: "bc".into(), ..event(1) };
        assert_ne!(chain_hash(GENESIS, 1, &a), chain_hash(GENESIS, 1, &b));
    }
}
