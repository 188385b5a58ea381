//! The document engine: ID card photo in, typed reading out.

pub mod mrz;
pub mod mrz_repair;
