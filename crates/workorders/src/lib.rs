//! Work orders: what one is and may do. So far the tenant's work-order settings and the
//! form templates (`templates`) and photo attachments (`attachments`); numbering, the status
//! machine, the timeline and ratings come with the work-order issue.

pub mod attachments;
pub mod settings;
pub mod templates;
