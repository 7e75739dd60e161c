//! The public part of the description: what pages, apps and operators call (ops, the
//! tag and the demo shop, service discovery, collect, the Monitoring API, decision),
//! the Engagement History API, and the description itself.

use utoipa::OpenApi;

use crate::routes::{assets, collect, decision, discovery, history, monitoring, ops};

#[derive(OpenApi)]
#[openapi(
    paths(
        ops::healthz,
        ops::metrics,
        super::routes::openapi_json,
        super::routes::docs_page,
        assets::tag_js,
        assets::actions_js,
        assets::demo_redirect,
        assets::demo_index,
        assets::demo_file,
        discovery::all_services,
        discovery::service,
        collect::collect,
        collect::preflight,
        monitoring::engagement,
        monitoring::report_put,
        monitoring::report_post,
        decision::decide,
        decision::preflight,
        history::search,
    ),
    components(schemas(
        // The items of a batch, which the batch's schema takes as any value (each is
        // validated alone and answered in `rejected`).
        crate::openapi::bodies::OfferEvent,
        crate::openapi::bodies::SdeItem,
    )),
    tags(
        (name = "Operations", description = "Health, metrics and this description."),
        (name = "The tag and the demo shop", description = "The web tag's files and the demo shop (docs/api.md, The tag and the demo shop)."),
        (name = "Service discovery (CSDS)", description = "LivePerson's Domain API: where each API is. Public."),
        (name = "Collect", description = "The tag's batches of `LP_OFFERS` events and SDEs. Public, for the account in the path."),
        (name = "Decision", description = "Which engagements the tag shows on a page view. Public, for the account in the path."),
        (name = "Monitoring API", description = "LivePerson's Monitoring API, for apps and servers without the tag. Public, for the account and app installation in the path; errors in the API's own body."),
        (name = "Engagement History API", description = "LivePerson's Engagement History API: interactions, searched. The account's key (Bearer or OAuth 1.0a)."),
    )
)]
pub(super) struct PublicApi;
