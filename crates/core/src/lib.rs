//! What every Baoxiu crate shares: ids, the tenant id, the clock, cursors, the domain
//! error with its field errors, list paging, and the CSV files exports hand out.

pub mod access;
pub mod actor;
pub mod clock;
pub mod csv_file;
pub mod cursor;
pub mod error;
pub mod ids;
pub mod page;
pub mod state;
pub mod text_enum;
pub mod texts;
pub mod version;

pub use access::{Channel, Permission};
pub use actor::{Actor, ActorKind};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cursor::Cursor;
pub use error::{DomainError, DomainResult, FieldError, Validator};
pub use ids::{TenantId, new_id};
pub use page::{Direction, Keyset, Page, PageRequest};
pub use state::{Transition, removed};
