pub mod document;
pub mod face;
pub mod imaging;
pub mod models;
pub mod ocr;
