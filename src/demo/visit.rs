//! One session played out page by page: page views, page pings while the reader is active, and
//! what pages invite (forms, videos, outbound links, the add-to-cart and checkout of a purchase).
//!
//! Page pings follow the JavaScript tracker's activity tracking (a ping per 10 s of activity),
//! which makes them the most common event, as on real sites.

use std::rc::Rc;

use super::catalog::{self, Page, Section};
use super::events::{self, Event, FormInput, Kind, MediaState, PageContext, Payload, Session};
use super::events::{Times, Transaction};
use super::rng::Rng;
use super::traffic::{self, Source};

pub(crate) struct Visit<'a> {
    rng: &'a mut Rng,
    session: Rc<Session>,
    events: &'a mut Vec<Event>,
    site: &'static [Page],
    host: &'static str,
    /// The reader's clock, in milliseconds since the epoch.
    at: i64,
}

impl<'a> Visit<'a> {
    pub(crate) fn new(
        rng: &'a mut Rng,
        session: Rc<Session>,
        events: &'a mut Vec<Event>,
        at: i64,
    ) -> Self {
        let (site, host) = match session.app_id {
            "docs" => (catalog::DOCS, catalog::DOCS_HOST),
            "website-staging" => (catalog::WEBSITE, catalog::STAGING_HOST),
            _ => (catalog::WEBSITE, catalog::WEBSITE_HOST),
        };
        Visit {
            rng,
            session,
            events,
            site,
            host,
            at,
        }
    }

    pub(crate) fn at(&self) -> i64 {
        self.at
    }

    /// Reads a few pages from a landing page, then buys if this is the session of a purchase.
    pub(crate) fn browse(&mut self, purchase: bool) {
        let source = traffic::acquisition(self.rng, self.session.app_id == "docs");
        let landing = self.pick_page(source.landing);
        let mut page = self.open(landing, &source, None);
        let pages = 1 + self.rng.geometric(0.62, 15);
        for _ in 1..pages {
            if !self.read(&page) {
                return;
            }
            let section = traffic::next_section(self.rng, page.section);
            page = self.follow(&page, section);
        }
        if self.read(&page) && purchase {
            self.buy(page);
        }
    }

    /// A page of `section`. The first page listed is the section's hub (`/pricing`, `/blog`),
    /// which most links point to.
    fn pick_page(&mut self, section: Section) -> &'static Page {
        let candidates: Vec<&'static Page> =
            self.site.iter().filter(|p| p.section == section).collect();
        match candidates.len() {
            0 => &self.site[0],
            _ if self.rng.chance(0.4) => candidates[0],
            n => candidates[self.rng.below(n as u64) as usize],
        }
    }

    /// The page view of `page`, reached from `source` (landing) or from `previous_url`.
    fn open(
        &mut self,
        page: &'static Page,
        source: &Source,
        previous_url: Option<String>,
    ) -> Rc<PageContext> {
        let query = source
            .campaign
            .map_or(String::new(), |(medium, src, campaign)| {
                format!("?utm_source={src}&utm_medium={medium}&utm_campaign={campaign}")
            });
        let (referrer, refr_medium, refr_source) = source.referrer;
        let context = Rc::new(PageContext {
            url: format!("https://{}{}{query}", self.host, page.path),
            host: self.host,
            path: page.path,
            title: page.title,
            section: page.section,
            referrer: previous_url.or(referrer.map(str::to_owned)),
            refr_medium,
            refr_source,
            mkt: source.campaign,
            page_view_id: self.rng.uuid(),
        });
        self.emit(&context, &events::PAGE_VIEW, Payload::None, 0);
        context
    }

    /// Navigates to a page of `section`, sometimes through a tracked link click.
    fn follow(&mut self, from: &Rc<PageContext>, section: Section) -> Rc<PageContext> {
        let to = self.pick_page(section);
        if self.rng.chance(0.2) {
            let target = format!("https://{}{}", self.host, to.path);
            self.emit(from, &events::LINK_CLICK, Payload::LinkClick(target), 0);
        }
        self.at += self.rng.between(300, 3_000);
        self.open(to, &Source::INTERNAL, Some(from.url.clone()))
    }

    /// Time on the page. Returns false when the reader leaves the site from it.
    fn read(&mut self, page: &Rc<PageContext>) -> bool {
        let active = match self.rng.below(100) {
            0..45 => self.rng.between(1_000, 9_999),
            45..80 => self.rng.between(10_000, 45_000),
            80..95 => self.rng.between(45_000, 120_000),
            _ => self.rng.between(120_000, 400_000),
        };
        for n in 1..=active / 10_000 {
            let jitter = self.rng.between(0, 200);
            self.emit(page, &events::PAGE_PING, Payload::None, n * 10_000 + jitter);
        }
        let mut busy = active;
        let video_chance = match page.section {
            Section::Webinar => 0.5,
            Section::Features => 0.15,
            _ => 0.0,
        };
        match page.section {
            Section::Form if self.rng.chance(0.6) => busy = busy.max(self.fill_form(page)),
            _ if self.rng.chance(video_chance) => busy = busy.max(self.watch(page)),
            Section::Pricing if self.rng.chance(0.06) => {
                let cart = Payload::Ecommerce("add_to_cart", None);
                self.emit(page, &events::ECOMMERCE_ACTION, cart, active / 2);
            }
            Section::Blog | Section::Docs if self.rng.chance(0.06) => {
                let target = (*self.rng.pick(catalog::OUTBOUND_LINKS)).to_owned();
                self.emit(
                    page,
                    &events::LINK_CLICK,
                    Payload::LinkClick(target),
                    active,
                );
                self.at += active;
                return false;
            }
            _ => {}
        }
        self.at += busy;
        true
    }

    /// Focuses and changes the lead form's fields in order, abandoning it now and then.
    fn fill_form(&mut self, page: &Rc<PageContext>) -> i64 {
        let form_id = if page.path == "/signup" {
            "signup"
        } else {
            "lead"
        };
        let mut offset = self.rng.between(2_000, 8_000);
        for field in catalog::LEAD_FORM {
            if self.rng.chance(0.12) {
                break;
            }
            let value = (!field.values.is_empty()).then(|| *self.rng.pick(field.values));
            let input = FormInput {
                form_id,
                element_id: field.element_id,
                node_name: field.node_name,
                input_type: field.input_type,
                value,
            };
            self.emit(page, &events::FOCUS_FORM, Payload::FocusForm(input), offset);
            offset += self.rng.between(1_500, 12_000);
            self.emit(
                page,
                &events::CHANGE_FORM,
                Payload::ChangeForm(input),
                offset,
            );
        }
        offset
    }

    /// Plays the page's video for a while: ready, play, progress marks, then pause or end.
    fn watch(&mut self, page: &Rc<PageContext>) -> i64 {
        let video = match page.section {
            Section::Webinar => &catalog::VIDEOS[2],
            _ => self.rng.pick(&catalog::VIDEOS[..2]),
        };
        let duration = video.duration_s;
        let watched = match self.rng.chance(0.2) {
            true => duration,
            false => self.rng.between(5, i64::from(duration)) as u32,
        };
        let start = self.rng.between(1_000, 10_000);
        let state = |media_type, position_s, paused, ended| MediaState {
            media_type,
            video,
            position_s,
            paused,
            ended,
        };
        let mut plays = vec![(&events::MEDIA_READY, state("ready", 0, true, false))];
        plays.push((&events::MEDIA_PLAY, state("play", 0, false, false)));
        for percent in [25, 50, 75] {
            if watched * 100 >= duration * percent {
                plays.push((
                    &events::MEDIA_PROGRESS,
                    state("percentprogress", duration * percent / 100, false, false),
                ));
            }
        }
        plays.push(match watched == duration {
            true => (&events::MEDIA_END, state("ended", duration, true, true)),
            false => (&events::MEDIA_PAUSE, state("pause", watched, true, false)),
        });
        for (kind, media) in plays {
            self.emit(
                page,
                kind,
                Payload::Media(media),
                start + i64::from(media.position_s) * 1_000,
            );
        }
        start + i64::from(watched) * 1_000
    }

    /// Pricing (add to cart), checkout (a checkout step), and the confirmation with the order.
    fn buy(&mut self, from: Rc<PageContext>) {
        let pricing = self.follow(&from, Section::Pricing);
        self.act(
            &pricing,
            Payload::Ecommerce("add_to_cart", None),
            5_000..=40_000,
        );
        let checkout = self.follow(&pricing, Section::Checkout);
        self.act(
            &checkout,
            Payload::Ecommerce("checkout_step", None),
            30_000..=180_000,
        );
        let confirmation = self.follow(&checkout, Section::Confirmation);
        let monthly = *self.rng.pick(catalog::PLAN_PRICES);
        let quantity = 1 + i64::from(self.rng.geometric(0.3, 9));
        let list = monthly * if self.rng.chance(0.3) { 10 } else { 1 } * quantity;
        let discount = self.rng.chance(0.15).then_some(("SPRING20", list / 5));
        let order = Transaction {
            id: format!("T{}", self.rng.token(8)),
            revenue_cents: list - discount.map_or(0, |d| d.1),
            currency: self.session.place.map_or("USD", |p| p.currency),
            payment_method: self.rng.weighted::<&str>(catalog::PAYMENT_METHODS),
            quantity,
            discount,
        };
        self.act(
            &confirmation,
            Payload::Ecommerce("transaction", Some(order)),
            500..=3_000,
        );
        self.read(&confirmation);
    }

    /// An event some time after arriving on `page`, which the reader spends there.
    fn act(
        &mut self,
        page: &Rc<PageContext>,
        payload: Payload,
        delay: std::ops::RangeInclusive<i64>,
    ) {
        let offset = self.rng.between(*delay.start(), *delay.end());
        self.emit(page, &events::ECOMMERCE_ACTION, payload, offset);
        self.at += offset;
    }

    fn emit(
        &mut self,
        page: &Rc<PageContext>,
        kind: &'static Kind,
        payload: Payload,
        offset_ms: i64,
    ) {
        self.events.push(Event {
            session: Rc::clone(&self.session),
            page: Rc::clone(page),
            kind,
            event_id: self.rng.uuid(),
            payload,
            at_ms: self.at + offset_ms,
            times: Times::default(),
        });
    }
}
