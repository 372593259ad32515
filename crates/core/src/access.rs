//! Who may do what, and from where: the terminal permissions roles grant and the channels
//! requests come from. Shared by every crate that decides access (registration, devices,
//! work orders, the portal), so they live here.

use serde::{Deserialize, Serialize};

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    MiniProgram,
    OfficialAccount,
    H5,
    Web,
    Api,
}

/// What a terminal role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    SubmitWorkOrder,
    ViewOwnWorkOrders,
    /// All work orders of the user's enterprise, not only their own.
    ViewEnterpriseWorkOrders,
    /// Devices of the user's account.
    ViewDevices,
    /// Bind a blank QR code to a device.
    RegisterBlankCode,
    ViewKnowledgeBase,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Self::SubmitWorkOrder,
        Self::ViewOwnWorkOrders,
        Self::ViewEnterpriseWorkOrders,
        Self::ViewDevices,
        Self::RegisterBlankCode,
        Self::ViewKnowledgeBase,
    ];
}
