//! Who the demo visitors are and when they come back: identity, home, device, account, whether
//! they buy, and the sessions they spread over the period.
//!
//! Each visitor draws from its own random stream, keyed by its index, so visitor 17 behaves the
//! same whatever the number of visitors. The rates are tuned for about 25 events per visitor.

use std::rc::Rc;

use super::catalog::{self, Device, Place};
use super::columns;
use super::events::{Event, Outage, Session};
use super::rng::Rng;
use super::visit::Visit;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const VISITOR_STREAM: u64 = 1;

/// Relative traffic per local hour of the day.
const HOURLY: [u32; 24] = [
    2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 10, 11, 11, 10, 9, 8, 8, 8, 7, 5, 3,
];

/// The period the visits fall in, `[start_ms, end_ms)` (whole days), and the loader outage.
pub(crate) struct Period {
    pub seed: u64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub outage: Outage,
}

struct Visitor {
    domain_userid: Option<String>,
    network_userid: Option<String>,
    /// Account holders: the user id, and the session from which they are logged in.
    account: Option<(String, u32)>,
    home: &'static Place,
    /// Travellers and VPN users are sometimes located elsewhere.
    abroad: Option<&'static Place>,
    device: &'static Device,
    br_lang: &'static str,
    clock_skew_ms: i64,
    /// Cookies older than the period have earlier sessions.
    first_sessionidx: i32,
    /// Employees testing the staging site.
    internal: bool,
}

/// All events of visitor `index`, with their delivery timestamps.
pub(crate) fn simulate(period: &Period, index: u32) -> Vec<Event> {
    let mut rng = Rng::stream(period.seed, VISITOR_STREAM, u64::from(index));
    // Sites run the tracker in anonymous mode for visitors who refuse consent: no cookies.
    let anonymous = rng.chance(0.005);
    let buyer = !anonymous && rng.chance(0.07);
    let sessions = 1 + rng.geometric(0.45, 25) + if buyer { 2 } else { 0 };
    let mut purchases = Vec::new();
    if buyer {
        purchases.push(rng.below(u64::from(sessions)) as u32);
        if rng.chance(0.25) {
            purchases.push(rng.below(u64::from(sessions)) as u32);
        }
    }
    // Buyers sign in when they first buy; other account holders at some visit.
    let login = match purchases.first() {
        Some(&first) => first,
        None => rng.below(u64::from(sessions)) as u32,
    };
    let has_account = buyer || (!anonymous && rng.chance(0.2));
    let home = rng.weighted(catalog::PLACES);
    let visitor = Visitor {
        domain_userid: (!anonymous).then(|| rng.uuid()),
        network_userid: (!anonymous).then(|| rng.uuid()),
        account: has_account.then(|| (format!("usr_{:05}", index + 1), login)),
        home,
        abroad: rng.chance(0.06).then(|| rng.weighted(catalog::PLACES)),
        device: rng.weighted(catalog::DEVICES),
        br_lang: if rng.chance(0.15) { "en-US" } else { home.lang },
        clock_skew_ms: match rng.chance(0.06) {
            true => rng.between(-2 * HOUR, 2 * HOUR),
            false => rng.between(-2_000, 2_000),
        },
        first_sessionidx: 1 + rng.geometric(0.3, 50) as i32,
        internal: rng.chance(0.01),
    };

    let mut events = Vec::new();
    let days = (period.end_ms - period.start_ms) / DAY;
    let first_day = period.start_ms + rng.between(0, days - 1) * DAY;
    let mut at = local_time(&mut rng, first_day, visitor.home);
    for number in 0..sessions {
        if at >= period.end_ms {
            break;
        }
        let session = Rc::new(new_session(&mut rng, &visitor, number));
        let mut visit = Visit::new(&mut rng, session, &mut events, at);
        visit.browse(purchases.contains(&number));
        let end = visit.at();
        at = end
            + match rng.below(100) {
                0..25 => rng.between(35 * MINUTE, 6 * HOUR),
                25..80 => rng.between(6 * HOUR, 4 * DAY),
                _ => rng.between(4 * DAY, 10 * DAY),
            };
    }
    for event in &mut events {
        event.deliver(&mut rng, &period.outage);
    }
    events
}

/// A moment on the UTC day starting at `day_start_ms`, at a plausible local hour for `place`.
fn local_time(rng: &mut Rng, day_start_ms: i64, place: &Place) -> i64 {
    let hours: Vec<(i64, u32)> = (0..24).map(|h| (h, HOURLY[h as usize])).collect();
    let local = *rng.weighted(&hours) * HOUR + rng.between(0, HOUR - 1);
    let utc = local - place.utc_offset_minutes * MINUTE;
    day_start_ms + utc.rem_euclid(DAY)
}

fn new_session(rng: &mut Rng, v: &Visitor, number: u32) -> Session {
    let app_id = match (v.internal, rng.chance(0.1)) {
        (true, _) => "website-staging",
        (false, true) => "docs",
        (false, false) => "website",
    };
    let place = match v.abroad {
        _ if rng.chance(0.005) => None,
        Some(abroad) if rng.chance(0.35) => Some(abroad),
        _ => Some(v.home),
    };
    let device = match catalog::desktop_mode(v.device) {
        Some(desktop) if rng.chance(0.5) => desktop,
        _ => v.device,
    };
    // Offline devices send a whole session's events hours or days later.
    let send_delay_ms = if rng.chance(0.025) {
        let delays = [
            (HOUR, 3 * HOUR),
            (3 * HOUR, 12 * HOUR),
            (12 * HOUR, 36 * HOUR),
            (36 * HOUR, 5 * DAY),
        ];
        let (lo, hi) = *rng.pick(&delays);
        rng.between(lo, hi)
    } else {
        0
    };
    let cookies = v.domain_userid.is_some();
    let logged_in = v.account.as_ref().filter(|(_, from)| number >= *from);
    Session {
        app_id,
        user_id: logged_in.map(|(id, _)| id.clone()),
        domain_userid: v.domain_userid.clone(),
        network_userid: v.network_userid.clone(),
        domain_sessionid: cookies.then(|| rng.uuid()),
        domain_sessionidx: cookies.then_some(v.first_sessionidx + number as i32),
        place,
        device,
        br_lang: v.br_lang,
        os_timezone: v.home.timezone,
        yauaa: (!rng.chance(0.01)).then(|| columns::yauaa(device)),
        clock_skew_ms: v.clock_skew_ms,
        send_delay_ms,
    }
}
