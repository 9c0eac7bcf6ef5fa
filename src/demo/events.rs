//! One demo event as the pipeline delivers it: what happened, on which page, in which session, and
//! the timestamps the collector, enrichment and loader give it, duplicate copies included.
//!
//! The timestamps follow the Snowplow pipeline: the device clock may be wrong and
//! `derived_tstamp` corrects for it; offline devices send late; the loader writes micro-batches,
//! so many events share one `load_tstamp`, and an outage delays a whole stretch of them.

use std::rc::Rc;

use super::catalog::{Device, Place, Section, Video};
use super::rng::Rng;

/// The `event` column and the event's schema.
pub(crate) struct Kind {
    pub event: &'static str,
    pub vendor: &'static str,
    pub name: &'static str,
    pub version: &'static str,
}

const SNOWPLOW: &str = "com.snowplowanalytics.snowplow";
const ECOMMERCE: &str = "com.snowplowanalytics.snowplow.ecommerce";
const MEDIA: &str = "com.snowplowanalytics.snowplow.media";

const fn kind(event: &'static str, vendor: &'static str, name: &'static str) -> Kind {
    Kind {
        event,
        vendor,
        name,
        version: "1-0-0",
    }
}

pub(crate) static PAGE_VIEW: Kind = kind("page_view", SNOWPLOW, "page_view");
pub(crate) static PAGE_PING: Kind = kind("page_ping", SNOWPLOW, "page_ping");
pub(crate) static ECOMMERCE_ACTION: Kind = kind("unstruct", ECOMMERCE, "snowplow_ecommerce_action");
// The JavaScript tracker sends link clicks as 1-0-1, so a definition pinned to 1-0-0 misses them.
pub(crate) static LINK_CLICK: Kind = Kind {
    version: "1-0-1",
    ..kind("unstruct", SNOWPLOW, "link_click")
};
pub(crate) static FOCUS_FORM: Kind = kind("unstruct", SNOWPLOW, "focus_form");
pub(crate) static CHANGE_FORM: Kind = kind("unstruct", SNOWPLOW, "change_form");
pub(crate) static MEDIA_READY: Kind = kind("unstruct", MEDIA, "ready_event");
pub(crate) static MEDIA_PLAY: Kind = kind("unstruct", MEDIA, "play_event");
pub(crate) static MEDIA_PAUSE: Kind = kind("unstruct", MEDIA, "pause_event");
pub(crate) static MEDIA_PROGRESS: Kind = kind("unstruct", MEDIA, "percent_progress_event");
pub(crate) static MEDIA_END: Kind = kind("unstruct", MEDIA, "end_event");

/// Who sends the events of one session, from what device and network.
pub(crate) struct Session {
    pub app_id: &'static str,
    pub user_id: Option<String>,
    pub domain_userid: Option<String>,
    pub network_userid: Option<String>,
    pub domain_sessionid: Option<String>,
    pub domain_sessionidx: Option<i32>,
    /// `None` when the IP lookup failed.
    pub place: Option<&'static Place>,
    pub device: &'static Device,
    pub br_lang: &'static str,
    pub os_timezone: &'static str,
    /// The YAUAA context, when the request carried a user agent to parse.
    pub yauaa: Option<String>,
    pub clock_skew_ms: i64,
    /// How long the tracker held the events before sending them (offline devices).
    pub send_delay_ms: i64,
}

/// The page an event happened on; page pings and in-page events share it with their page view.
pub(crate) struct PageContext {
    pub url: String,
    pub host: &'static str,
    pub path: &'static str,
    pub title: &'static str,
    pub section: Section,
    pub referrer: Option<String>,
    pub refr_medium: Option<&'static str>,
    pub refr_source: Option<&'static str>,
    /// `(medium, source, campaign)` from the landing page's `utm_` parameters.
    pub mkt: Option<(&'static str, &'static str, &'static str)>,
    /// The page view id of the web page context.
    pub page_view_id: String,
}

#[derive(Clone)]
pub(crate) struct Transaction {
    pub id: String,
    pub revenue_cents: i64,
    pub currency: &'static str,
    pub payment_method: &'static str,
    pub quantity: i64,
    pub discount: Option<(&'static str, i64)>,
}

#[derive(Clone, Copy)]
pub(crate) struct MediaState {
    /// The media player event v1 type: `ready`, `play`, `percentprogress`, `pause`, `ended`.
    pub media_type: &'static str,
    pub video: &'static Video,
    pub position_s: u32,
    pub paused: bool,
    pub ended: bool,
}

#[derive(Clone, Copy)]
pub(crate) struct FormInput {
    pub form_id: &'static str,
    pub element_id: &'static str,
    pub node_name: &'static str,
    pub input_type: &'static str,
    /// What the tracker captured; `None` for free-text fields.
    pub value: Option<&'static str>,
}

/// The self-describing data specific to one event type.
#[derive(Clone)]
pub(crate) enum Payload {
    None,
    /// The ecommerce action type (`add_to_cart`, `transaction`, ...) and, for orders, the order.
    Ecommerce(&'static str, Option<Transaction>),
    Media(MediaState),
    /// The link's target URL.
    LinkClick(String),
    FocusForm(FormInput),
    ChangeForm(FormInput),
}

impl Payload {
    pub(crate) fn transaction(&self) -> Option<&Transaction> {
        match self {
            Payload::Ecommerce(_, transaction) => transaction.as_ref(),
            _ => None,
        }
    }
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Default)]
pub(crate) struct Times {
    pub dvce_created: i64,
    pub dvce_sent: i64,
    pub collector: i64,
    pub derived: i64,
    pub etl: i64,
    pub load: i64,
}

#[derive(Clone)]
pub(crate) struct Event {
    pub session: Rc<Session>,
    pub page: Rc<PageContext>,
    pub kind: &'static Kind,
    pub event_id: String,
    pub payload: Payload,
    /// When it really happened.
    pub at_ms: i64,
    pub times: Times,
}

/// A loader outage: events enriched while it lasts are loaded when it ends.
pub(crate) struct Outage {
    pub start_ms: i64,
    pub end_ms: i64,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Loaders write in micro-batches; every event of a batch gets the same `load_tstamp`.
const LOAD_BATCH_MS: i64 = 10_000;

fn next_batch(ms: i64) -> i64 {
    (ms / LOAD_BATCH_MS + 1) * LOAD_BATCH_MS
}

impl Event {
    /// Sets the pipeline timestamps. `derived_tstamp` is computed the way enrichment does,
    /// `collector - (dvce_sent - dvce_created)`, which cancels the device's clock error.
    pub(crate) fn deliver(&mut self, rng: &mut Rng, outage: &Outage) {
        let delay = self.session.send_delay_ms + rng.between(0, 400);
        let dvce_created = self.at_ms + self.session.clock_skew_ms;
        let dvce_sent = dvce_created + delay;
        let collector = self.at_ms + delay + rng.between(30, 900);
        let etl = collector + rng.between(400, 20_000);
        let mut load = next_batch(etl + rng.between(1_000, 90_000));
        if (outage.start_ms..outage.end_ms).contains(&etl) {
            // The backlog drains over a quarter of an hour or so once the loader is back.
            let backlog = (etl - outage.start_ms) / 30 + rng.between(0, 60_000);
            load = next_batch(outage.end_ms + backlog);
        }
        let derived = collector - (dvce_sent - dvce_created);
        self.times = Times {
            dvce_created,
            dvce_sent,
            collector,
            derived,
            etl,
            load,
        };
    }

    /// A second copy of this event as real pipelines produce them, always loaded later.
    /// `other` is a random unrelated event, the source of an event id collision.
    pub(crate) fn duplicate(&self, rng: &mut Rng, other: &Event) -> Event {
        let mut copy = self.clone();
        let t = &mut copy.times;
        match rng.below(100) {
            // The tracker got no acknowledgement and sent the same payload again.
            0..50 => {
                let retry = rng.between(2_000, 600_000);
                for field in [&mut t.dvce_sent, &mut t.collector, &mut t.etl] {
                    *field += retry;
                }
                t.load = next_batch(self.times.load + retry);
            }
            // A pipeline replay (recovered bad rows): the same event, loaded hours or days later.
            50..75 => t.load = next_batch(self.times.load + rng.between(HOUR_MS, 4 * DAY_MS)),
            // Same id, altered content: a page view re-sent as a ping (as in the upstream
            // fixture), an order confirmation re-sent with a recalculated total.
            75..90 => {
                let shift = rng.between(1_000, 300_000);
                for field in [
                    &mut t.dvce_created,
                    &mut t.dvce_sent,
                    &mut t.collector,
                    &mut t.etl,
                ] {
                    *field += shift;
                }
                t.derived += shift;
                t.load = next_batch(self.times.load + shift + rng.between(0, DAY_MS));
                if std::ptr::eq(copy.kind, &PAGE_VIEW) {
                    copy.kind = &PAGE_PING;
                }
                if let Payload::Ecommerce(_, Some(order)) = &mut copy.payload {
                    order.revenue_cents = order.revenue_cents * 9 / 10;
                }
            }
            // Two unrelated events sharing an id: a broken UUID generator, or a bot replaying a
            // captured payload.
            _ => {
                let later = next_batch(self.times.load + rng.between(1_000, 2 * DAY_MS));
                copy = other.clone();
                copy.event_id = self.event_id.clone();
                copy.times.load = copy.times.load.max(later);
            }
        }
        copy
    }

    pub(crate) fn is_late(&self) -> bool {
        self.times.load - self.times.derived > HOUR_MS
    }
}
