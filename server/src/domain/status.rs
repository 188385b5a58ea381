//! Session status (what the integrator sees) and step (where the user is).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Created,
    InProgress,
    Approved,
    Rejected,
    Cancelled,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Created => "created",
            SessionStatus::InProgress => "in_progress",
            SessionStatus::Approved => "approved",
            SessionStatus::Rejected => "rejected",
            SessionStatus::Cancelled => "cancelled",
            SessionStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Created, Self::InProgress, Self::Approved, Self::Rejected, Self::Cancelled, Self::Expired]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Ended sessions accept no more input and their link stops working.
    pub fn is_final(self) -> bool {
        !matches!(self, SessionStatus::Created | SessionStatus::InProgress)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Document,
    Selfie,
    Liveness,
    Done,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Document => "document",
            Step::Selfie => "selfie",
            Step::Liveness => "liveness",
            Step::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Document, Self::Selfie, Self::Liveness, Self::Done].into_iter().find(|v| v.as_str() == s)
    }
}
