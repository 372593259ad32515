//! Work orders: what one is and may do — submission (for a device or without one), numbers,
//! the status machine with its timeline and outbox events, assignment, check-in and
//! check-out, ratings, tracking links — and the tenant's work-order settings, form
//! templates (`templates`), photo attachments (`attachments`), the CSV export
//! (`export`) and the guest upgrade (`upgrade`).

pub mod attachments;
pub mod export;
pub mod numbering;
pub mod orders;
pub mod settings;
pub mod status;
pub mod templates;
pub mod timeline;
pub mod tracking;
pub mod upgrade;
