//! Bindings generated from the WIT worlds this host runs, and the conversions
//! between them and the host's own [`sluice_model`] types: `v0_2` is `wit/`,
//! `v0_1` the previous version kept under `wit/deps/`.

pub mod v0_1;
pub mod v0_2;
