//! The console: the web app at `/console/` for the people who run campaigns and the people
//! who run Engage (docs/console.md). Pages are rendered here with maud; the only scripts
//! are our own (`web/console/`), served from the binary under a Content-Security-Policy
//! that allows no inline script or style.
//!
//! - `session`: sign-in, sign-out, the session cookie and [`ConsoleUser`], the CSRF check
//!   and the sign-in rate limits. Sessions live in the store
//!   ([`engage_store::Store::create_console_session`]), so every server knows them.
//! - `page`: the layout every page shares (navigation, headers), and small helpers.
//! - `api`: the console's writes: each calls the JSON route's own handler with the
//!   session's account, so the console has no second copy of their logic.
//! - `campaigns`, `history`, `quarantine`, `settings`, `overview` (Overview and Results):
//!   one module per screen.
//! - `period` and `zone`: the period chooser of Overview and Results, in the days and
//!   hours of the browser's time zone (a cookie `console.js` writes).
//! - `assets`: the console's CSS and scripts, and the live preview built from the tag's
//!   own renderer (`tag/src/render.js`).

pub(crate) mod api;
pub(crate) mod assets;
pub(crate) mod campaigns;
pub(crate) mod chart;
pub(crate) mod history;
pub(crate) mod overview;
pub mod page;
pub(crate) mod period;
pub(crate) mod quarantine;
pub mod session;
pub(crate) mod settings;
pub(crate) mod zone;

pub use session::{ConsoleLimits, ConsoleUser};
