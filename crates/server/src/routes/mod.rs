//! The routes, each declared once: `utoipa-axum` builds the router and the OpenAPI document
//! from the same list, so no route can exist without its documentation.

pub mod brands;
pub mod drafts;
pub mod events;
pub mod messages;
pub mod review;
pub mod system;
pub mod tokens;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tact",
        description = "Drafts replies with a local model; a person approves every one before it is sent."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "messages", description = "Inbound messages, the review queue, drafting events"),
        (name = "review", description = "Approve, reject, escalate, mark posted; the audit log"),
        (name = "drafts", description = "Ad-hoc drafts and guideline checks (the browser extension)"),
        (name = "brands", description = "Brands, approval policy, guidelines, crisis summaries"),
        (name = "tokens", description = "API tokens"),
        (name = "system", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route of the API with its documentation.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(system::metrics))
        .routes(routes!(tokens::me))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(messages::submit, messages::list))
        .routes(routes!(messages::detail))
        .routes(routes!(events::events))
        .routes(routes!(review::propose))
        .routes(routes!(review::approve))
        .routes(routes!(review::reject))
        .routes(routes!(review::escalate))
        .routes(routes!(review::posted))
        .routes(routes!(review::message_audit))
        .routes(routes!(review::audit))
        .routes(routes!(drafts::draft))
        .routes(routes!(drafts::check))
        .routes(routes!(brands::list))
        .routes(routes!(brands::get))
        .routes(routes!(brands::put_policy))
        .routes(routes!(brands::get_guidelines, brands::put_guidelines))
        .routes(routes!(brands::crisis))
}

/// The OpenAPI document (what `/api/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}
