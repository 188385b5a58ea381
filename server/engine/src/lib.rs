pub mod imaging;
pub mod models;
