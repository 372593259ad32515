//! Work orders: what one is and may do. So far the tenant's work-order settings and the
//! photo attachments (`attachments`); form templates, numbering, the status machine, the
//! timeline and ratings come with the work-order issue.

pub mod attachments;
pub mod settings;
