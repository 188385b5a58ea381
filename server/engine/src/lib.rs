pub mod face;
pub mod imaging;
pub mod models;
