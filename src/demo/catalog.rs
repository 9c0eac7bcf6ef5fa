//! The fixed world the demo visitors live in: places, devices, the pages of a fictional analytics
//! vendor's website and docs, its videos and its plans.
//!
//! Kept apart from the simulation so the behaviour code reads as behaviour, and so the values an
//! attribute can produce (countries, operating system names, marketing sources) are easy to find.
//! Operating system names follow the Snowplow conformance fixture (`MacOS`, `Windows`, ...).

/// Where an IP address geolocates to. `utc_offset_minutes` is the local offset in March, used only
/// to put visits at plausible local hours.
pub(crate) struct Place {
    pub country: &'static str,
    pub region: Option<&'static str>,
    pub city: &'static str,
    pub timezone: &'static str,
    pub utc_offset_minutes: i64,
    pub lang: &'static str,
    pub currency: &'static str,
}

#[rustfmt::skip]
pub(crate) static PLACES: &[(Place, u32)] = &[
    (place("US", Some("NY"), "New York", "America/New_York", -300, "en-US", "USD"), 10),
    (place("US", Some("CA"), "San Francisco", "America/Los_Angeles", -480, "en-US", "USD"), 8),
    (place("US", Some("TX"), "Austin", "America/Chicago", -360, "en-US", "USD"), 5),
    (place("GB", Some("ENG"), "London", "Europe/London", 0, "en-GB", "GBP"), 9),
    (place("GB", Some("ENG"), "Manchester", "Europe/London", 0, "en-GB", "GBP"), 3),
    (place("DE", Some("BE"), "Berlin", "Europe/Berlin", 60, "de-DE", "EUR"), 6),
    (place("DE", Some("BY"), "München", "Europe/Berlin", 60, "de-DE", "EUR"), 4),
    (place("FR", Some("IDF"), "Paris", "Europe/Paris", 60, "fr-FR", "EUR"), 6),
    (place("FR", Some("ARA"), "Lyon", "Europe/Paris", 60, "fr-FR", "EUR"), 2),
    (place("NL", Some("NH"), "Amsterdam", "Europe/Amsterdam", 60, "nl-NL", "EUR"), 4),
    (place("ES", Some("MD"), "Madrid", "Europe/Madrid", 60, "es-ES", "EUR"), 3),
    (place("IT", Some("25"), "Milan", "Europe/Rome", 60, "it-IT", "EUR"), 2),
    (place("SE", Some("AB"), "Stockholm", "Europe/Stockholm", 60, "sv-SE", "EUR"), 2),
    (place("PL", Some("14"), "Warsaw", "Europe/Warsaw", 60, "pl-PL", "EUR"), 2),
    (place("CA", Some("ON"), "Toronto", "America/Toronto", -300, "en-CA", "USD"), 4),
    (place("BR", Some("SP"), "São Paulo", "America/Sao_Paulo", -180, "pt-BR", "USD"), 3),
    (place("IN", Some("KA"), "Bengaluru", "Asia/Kolkata", 330, "en-IN", "USD"), 4),
    (place("JP", Some("13"), "Tokyo", "Asia/Tokyo", 540, "ja-JP", "USD"), 2),
    (place("AU", Some("NSW"), "Sydney", "Australia/Sydney", 660, "en-AU", "USD"), 3),
    (place("SG", None, "Singapore", "Asia/Singapore", 480, "en-SG", "USD"), 1),
];

const fn place(
    country: &'static str,
    region: Option<&'static str>,
    city: &'static str,
    timezone: &'static str,
    utc_offset_minutes: i64,
    lang: &'static str,
    currency: &'static str,
) -> Place {
    Place {
        country,
        region,
        city,
        timezone,
        utc_offset_minutes,
        lang,
        currency,
    }
}

/// A browser on a device, as the YAUAA enrichment describes it.
#[derive(Clone, Copy)]
pub(crate) struct Device {
    /// `Desktop`, `Phone` or `Tablet`.
    pub device_class: &'static str,
    pub device_brand: &'static str,
    pub os_name: &'static str,
    pub os_version: &'static str,
    pub agent_name: &'static str,
    pub agent_version: &'static str,
    pub layout_engine: &'static str,
    pub useragent: &'static str,
}

impl Device {
    /// The legacy atomic `dvce_type` value.
    pub(crate) fn dvce_type(&self) -> &'static str {
        match self.device_class {
            "Desktop" => "Computer",
            "Phone" => "Mobile",
            other => other,
        }
    }

    pub(crate) fn os_class(&self) -> &'static str {
        if self.device_class == "Desktop" {
            "Desktop"
        } else {
            "Mobile"
        }
    }
}

const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36";
const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36 Edg/134.0.0.0";
const FIREFOX_WIN: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:136.0) Gecko/20100101 Firefox/136.0";
const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
    (KHTML, like Gecko) Version/18.3 Safari/605.1.15";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:136.0) Gecko/20100101 Firefox/136.0";
const CHROME_CROS: &str = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/134.0.0.0 Mobile Safari/537.36";
const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 18_3 like Mac OS X) AppleWebKit/605.1.15 \
    (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1";

#[rustfmt::skip]
pub(crate) static DEVICES: &[(Device, u32)] = &[
    (device("Desktop", "Unknown", "Windows", "10", "Chrome", "134", "Blink", CHROME_WIN), 24),
    (device("Desktop", "Unknown", "Windows", "10", "Edge", "134", "Blink", EDGE_WIN), 8),
    (device("Desktop", "Unknown", "Windows", "10", "Firefox", "136", "Gecko", FIREFOX_WIN), 4),
    (device("Desktop", "Apple", "MacOS", ">=10.15.7", "Chrome", "134", "Blink", CHROME_MAC), 12),
    (MAC_SAFARI, 8),
    (device("Desktop", "Unknown", "Linux", "??", "Firefox", "136", "Gecko", FIREFOX_LINUX), 3),
    (device("Desktop", "Google", "ChromeOS", "14541.0.0", "Chrome", "134", "Blink", CHROME_CROS), 1),
    (device("Phone", "Apple", "iOS", "18.3", "Safari", "18.3", "AppleWebKit", SAFARI_IPHONE), 15),
    (device("Phone", "Samsung", "Android", "14", "Chrome", "134", "Blink", CHROME_ANDROID), 14),
    (device("Tablet", "Apple", "iPadOS", "18.3", "Safari", "18.3", "AppleWebKit", SAFARI_IPAD), 3),
];

#[rustfmt::skip]
const MAC_SAFARI: Device =
    device("Desktop", "Apple", "MacOS", ">=10.15.7", "Safari", "18.3", "AppleWebKit", SAFARI_MAC);

// Positional on purpose: it keeps the device table above one readable row per device.
#[allow(clippy::too_many_arguments)]
const fn device(
    device_class: &'static str,
    device_brand: &'static str,
    os_name: &'static str,
    os_version: &'static str,
    agent_name: &'static str,
    agent_version: &'static str,
    layout_engine: &'static str,
    useragent: &'static str,
) -> Device {
    Device {
        device_class,
        device_brand,
        os_name,
        os_version,
        agent_name,
        agent_version,
        layout_engine,
        useragent,
    }
}

/// iPad Safari requests desktop sites by default and then reports itself as a Mac, so one cookie
/// can show two operating systems: the reason some visitors have a multi-valued OS list.
pub(crate) fn desktop_mode(device: &'static Device) -> Option<&'static Device> {
    (device.os_name == "iPadOS").then_some(&MAC_SAFARI)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Section {
    Home,
    Features,
    Pricing,
    Blog,
    Customers,
    Webinar,
    /// Pages with a lead form (demo request, contact, sign-up).
    Form,
    Checkout,
    Confirmation,
    Docs,
}

pub(crate) struct Page {
    pub path: &'static str,
    pub title: &'static str,
    pub section: Section,
}

pub(crate) const WEBSITE_HOST: &str = "www.lumen-analytics.example";
pub(crate) const STAGING_HOST: &str = "staging.lumen-analytics.example";
pub(crate) const DOCS_HOST: &str = "docs.lumen-analytics.example";

#[rustfmt::skip]
pub(crate) static WEBSITE: &[Page] = &[
    page("/", "Lumen: product analytics for modern teams", Section::Home),
    page("/features", "Features | Lumen", Section::Features),
    page("/features/dashboards", "Dashboards | Lumen", Section::Features),
    page("/features/experiments", "Experiments | Lumen", Section::Features),
    page("/features/integrations", "Integrations | Lumen", Section::Features),
    page("/pricing", "Pricing | Lumen", Section::Pricing),
    page("/pricing/enterprise", "Enterprise plans | Lumen", Section::Pricing),
    page("/blog", "Blog | Lumen", Section::Blog),
    page("/blog/activation-metrics-that-matter", "Activation metrics that matter", Section::Blog),
    page("/blog/event-tracking-plan-template", "An event tracking plan template", Section::Blog),
    page("/blog/retention-cohorts-explained", "Retention cohorts, explained", Section::Blog),
    page("/blog/warehouse-native-analytics", "Why warehouse-native analytics", Section::Blog),
    page("/customers", "Customers | Lumen", Section::Customers),
    page("/customers/northwind", "How Northwind doubled activation | Lumen", Section::Customers),
    page("/webinars/getting-started", "Webinar: getting started with Lumen", Section::Webinar),
    page("/demo", "Book a demo | Lumen", Section::Form),
    page("/contact", "Contact sales | Lumen", Section::Form),
    page("/signup", "Start your free trial | Lumen", Section::Form),
    page("/checkout", "Checkout | Lumen", Section::Checkout),
    page("/checkout/confirmation", "Thank you for your order | Lumen", Section::Confirmation),
];

#[rustfmt::skip]
pub(crate) static DOCS: &[Page] = &[
    page("/", "Lumen documentation", Section::Docs),
    page("/quickstart", "Quickstart | Lumen docs", Section::Docs),
    page("/sdk/javascript", "JavaScript SDK | Lumen docs", Section::Docs),
    page("/sdk/python", "Python SDK | Lumen docs", Section::Docs),
    page("/api/reference", "API reference | Lumen docs", Section::Docs),
    page("/guides/identity", "Identity stitching | Lumen docs", Section::Docs),
    page("/changelog", "Changelog | Lumen docs", Section::Docs),
];

const fn page(path: &'static str, title: &'static str, section: Section) -> Page {
    Page {
        path,
        title,
        section,
    }
}

pub(crate) static OUTBOUND_LINKS: &[&str] = &[
    "https://github.com/lumen-analytics/lumen-js",
    "https://github.com/lumen-analytics/lumen-python",
    "https://www.linkedin.com/company/lumen-analytics",
    "https://status.lumen-analytics.example/",
];

pub(crate) struct Video {
    pub label: &'static str,
    pub duration_s: u32,
}

#[rustfmt::skip]
pub(crate) static VIDEOS: &[Video] = &[
    Video { label: "Lumen in 90 seconds", duration_s: 92 },
    Video { label: "Building your first dashboard", duration_s: 421 },
    Video { label: "Getting started webinar", duration_s: 1_834 },
];

/// Monthly list prices in cents; annual billing charges ten months.
pub(crate) static PLAN_PRICES: &[i64] = &[2_900, 7_900, 19_900];

pub(crate) static PAYMENT_METHODS: &[(&str, u32)] = &[
    ("card", 70),
    ("paypal", 15),
    ("apple_pay", 8),
    ("invoice", 7),
];

/// A lead form field: element id, node name, input type, and the values the tracker captures.
/// Free-text fields capture nothing, because the tracker is configured not to collect PII.
pub(crate) struct FormField {
    pub element_id: &'static str,
    pub node_name: &'static str,
    pub input_type: &'static str,
    pub values: &'static [&'static str],
}

const fn field(
    element_id: &'static str,
    node_name: &'static str,
    input_type: &'static str,
) -> FormField {
    FormField {
        element_id,
        node_name,
        input_type,
        values: &[],
    }
}

pub(crate) static LEAD_FORM: &[FormField] = &[
    field("first_name", "INPUT", "text"),
    field("work_email", "INPUT", "email"),
    field("company", "INPUT", "text"),
    FormField {
        values: &["1-10", "11-50", "51-200", "201-1000", "1000+"],
        ..field("company_size", "SELECT", "select")
    },
    FormField {
        values: &["engineering", "product", "marketing", "data", "other"],
        ..field("role", "SELECT", "select")
    },
];
