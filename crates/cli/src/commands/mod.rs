pub mod check;
pub mod draft;
pub mod models;
