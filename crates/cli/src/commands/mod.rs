pub mod draft;
pub mod models;
