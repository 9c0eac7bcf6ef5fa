//! Where demo sessions come from (referrers and campaigns) and where readers go next.
//!
//! Tables rather than code, so the values attributes such as `first_refr_source` and
//! `first_mkt_source` can take are all visible here. The referrer fields follow Snowplow's
//! referer parser: known search engines and social networks get a medium and a source, unknown
//! sites medium `unknown` and no source, internal navigation medium `internal`.

use super::catalog::Section;
use super::rng::Rng;

/// `(page_referrer, refr_medium, refr_source)`.
type Referrer = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);
/// `(mkt_medium, mkt_source, mkt_campaign)`, from the landing page's `utm_` parameters.
pub(crate) type Campaign = (&'static str, &'static str, &'static str);

/// How one group of sessions arrives: each list is a weighted choice.
struct Channel {
    referrers: &'static [(Referrer, u32)],
    campaigns: &'static [(Option<Campaign>, u32)],
    landings: &'static [(Section, u32)],
}

const NO_REFERRER: Referrer = (None, None, None);
const GOOGLE: Referrer = (
    Some("https://www.google.com/"),
    Some("search"),
    Some("Google"),
);
const LINKEDIN: Referrer = (
    Some("https://www.linkedin.com/"),
    Some("social"),
    Some("LinkedIn"),
);

#[rustfmt::skip]
static CHANNELS: &[(Channel, u32)] = &[
    // Direct: typed URLs and bookmarks.
    (Channel {
        referrers: &[(NO_REFERRER, 1)],
        campaigns: &[(None, 1)],
        landings: &[(Section::Home, 6), (Section::Pricing, 2), (Section::Blog, 2)],
    }, 30),
    (Channel {
        referrers: &[
            (GOOGLE, 80),
            ((Some("https://www.bing.com/"), Some("search"), Some("Bing")), 12),
            ((Some("https://duckduckgo.com/"), Some("search"), Some("DuckDuckGo")), 8),
        ],
        campaigns: &[(None, 1)],
        landings: &[(Section::Blog, 5), (Section::Home, 3), (Section::Features, 2)],
    }, 30),
    (Channel {
        referrers: &[(GOOGLE, 1)],
        campaigns: &[
            (Some(("cpc", "google", "brand_search")), 3),
            (Some(("cpc", "google", "spring_launch")), 2),
            (Some(("cpc", "google", "competitor_terms")), 1),
        ],
        landings: &[(Section::Pricing, 4), (Section::Features, 4), (Section::Home, 2)],
    }, 10),
    (Channel {
        referrers: &[(LINKEDIN, 1)],
        campaigns: &[(Some(("paid_social", "linkedin", "spring_launch")), 1)],
        landings: &[(Section::Pricing, 1), (Section::Features, 1)],
    }, 2),
    (Channel {
        referrers: &[
            (LINKEDIN, 50),
            ((Some("https://t.co/"), Some("social"), Some("Twitter")), 25),
            ((Some("https://www.reddit.com/"), Some("social"), Some("Reddit")), 15),
            ((Some("https://www.facebook.com/"), Some("social"), Some("Facebook")), 10),
        ],
        // Posts scheduled through Buffer carry its utm parameters, whatever the network.
        campaigns: &[(None, 3), (Some(("social", "buffer", "founder_posts")), 1)],
        landings: &[(Section::Blog, 7), (Section::Home, 3)],
    }, 8),
    (Channel {
        // Webmail in a browser tab sends a referrer; mail apps send none.
        referrers: &[
            ((Some("https://mail.google.com/"), Some("email"), Some("Gmail")), 1),
            (NO_REFERRER, 1),
        ],
        campaigns: &[
            (Some(("email", "newsletter", "march_newsletter")), 1),
            (Some(("email", "newsletter", "webinar_invite")), 1),
        ],
        landings: &[(Section::Blog, 1), (Section::Webinar, 1)],
    }, 8),
    (Channel {
        referrers: &[
            ((Some("https://news.ycombinator.com/"), Some("unknown"), None), 3),
            ((Some("https://www.g2.com/products/lumen/reviews"), Some("unknown"), None), 2),
            ((Some("https://medium.com/@datajane/our-analytics-stack"), Some("unknown"), None), 1),
        ],
        campaigns: &[(None, 1)],
        landings: &[(Section::Home, 5), (Section::Customers, 3), (Section::Blog, 2)],
    }, 12),
];

#[rustfmt::skip]
static DOCS_CHANNEL: Channel = Channel {
    referrers: &[
        (NO_REFERRER, 5),
        (GOOGLE, 4),
        ((Some("https://github.com/lumen-analytics/lumen-js"), Some("unknown"), None), 1),
    ],
    campaigns: &[(None, 1)],
    landings: &[(Section::Docs, 1)],
};

/// Where a session came from.
#[derive(Clone, Copy)]
pub(crate) struct Source {
    pub referrer: Referrer,
    pub campaign: Option<Campaign>,
    pub landing: Section,
}

impl Source {
    /// The source of every page view after the landing page.
    pub(crate) const INTERNAL: Source = Source {
        referrer: (None, Some("internal"), None),
        campaign: None,
        landing: Section::Home,
    };
}

pub(crate) fn acquisition(rng: &mut Rng, docs: bool) -> Source {
    let channel = if docs {
        &DOCS_CHANNEL
    } else {
        rng.weighted(CHANNELS)
    };
    Source {
        referrer: *rng.weighted(channel.referrers),
        campaign: *rng.weighted(channel.campaigns),
        landing: *rng.weighted(channel.landings),
    }
}

/// Where a reader goes next from a page in `section`.
pub(crate) fn next_section(rng: &mut Rng, section: Section) -> Section {
    use Section::*;
    let options: &[(Section, u32)] = match section {
        Home => &[
            (Features, 30),
            (Pricing, 25),
            (Blog, 15),
            (Customers, 10),
            (Form, 12),
            (Webinar, 8),
        ],
        Features => &[
            (Features, 20),
            (Pricing, 30),
            (Form, 20),
            (Home, 10),
            (Webinar, 10),
            (Customers, 10),
        ],
        Blog => &[
            (Blog, 40),
            (Home, 20),
            (Features, 20),
            (Pricing, 10),
            (Webinar, 10),
        ],
        Pricing => &[
            (Pricing, 15),
            (Form, 25),
            (Features, 25),
            (Home, 10),
            (Customers, 25),
        ],
        Customers => &[(Pricing, 30), (Features, 30), (Form, 20), (Blog, 20)],
        Docs => &[(Docs, 1)],
        Form | Webinar | Checkout | Confirmation => &[(Home, 30), (Pricing, 30), (Features, 40)],
    };
    *rng.weighted(options)
}
