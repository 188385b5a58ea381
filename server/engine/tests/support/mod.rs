pub mod cardgen;
