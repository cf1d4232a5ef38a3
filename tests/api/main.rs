//! Integration tests of the approval service against a real server on a free port, with the
//! real models: they live here, not in `crates/server`, so that the server crate builds
//! without tact-retrieval and tact-inference even as a dev-dependency.

mod auth;
mod bad_input;
mod brands;
mod flow;
mod support;
