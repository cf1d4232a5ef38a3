pub mod check;
pub mod crisis;
pub mod draft;
pub mod eval;
pub mod grounded;
pub mod knowledge;
pub mod models;
