//! Equipment and the QR codes stuck on it: devices with their owner account, warranty and
//! visibility; lookup by serial or machine number; and who may see which device.

pub mod devices;
pub mod keys;
pub mod qr;
pub mod render;
pub mod transfer;

pub use devices::{Device, Viewer};
