pub mod document;
pub mod imaging;
pub mod models;
pub mod ocr;
