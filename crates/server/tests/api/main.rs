//! Integration tests of the approval service against a real server on a free port.

mod auth;
mod bad_input;
mod brands;
mod flow;
mod openapi;
mod support;
