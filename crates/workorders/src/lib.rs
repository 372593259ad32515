//! Work orders: what one is and may do. So far the tenant's work-order settings and the
//! form templates; numbering, the status machine, the timeline, ratings and attachments'
//! records come with the work-order issue.

pub mod settings;
pub mod templates;
