pub mod document;
pub mod face;
pub mod imaging;
pub mod liveness;
pub mod models;
pub mod ocr;
