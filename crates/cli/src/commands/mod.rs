pub mod check;
pub mod draft;
pub mod knowledge;
pub mod models;
