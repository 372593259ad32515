//! Who is acting: passed to every domain write so the audit log can say who did it.

use crate::ids::TenantId;

crate::text_enum! {
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Staff = "staff",
    Terminal = "terminal",
    Guest = "guest",
    Platform = "platform",
    /// The system itself (sign-up, scheduled jobs, seeding).
    System = "system",
}
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub tenant_id: TenantId,
    pub kind: ActorKind,
    pub id: String,
    /// The HTTP request this action came from, to join the audit log with the logs.
    pub request_id: Option<String>,
}
