pub mod cardgen;
pub mod headturn;
