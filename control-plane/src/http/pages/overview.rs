//! The overview page (`/`): fleet counters as cards linking to their pages, and the 30-day trend
//! drawn server-side as inline SVG (no script; colours from classes, so the CSP's ban on inline
//! style holds). The numbers come from `ReadModels::overview` only.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::components::{bad_params, plural, short_date, store_error, time_ago};
use super::layout;
use crate::http::AppState;
use crate::http::params::{self, NoParams, online_since};
use crate::http::principal::Principal;
use crate::state::unix_now;
use crate::store::read::{DailyPoint, Overview};

pub(crate) async fn overview(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return bad_params(&error, &principal);
    }
    let now = unix_now();
    let overview = match state.cp.store.overview(now, online_since(now)).await {
        Ok(overview) => overview,
        Err(error) => return store_error(error, &principal),
    };
    let waiting = match crate::exception_requests::waiting(state.cp.store.as_ref(), None).await {
        Ok(waiting) => waiting,
        Err(error) => return super::ops::refused(&principal, &crate::error::ApiError::from(error), "/"),
    };
    layout::page("Overview", Some(&principal), render(&overview, now, waiting)).into_response()
}

struct Card {
    label: &'static str,
    value: i64,
    href: &'static str,
    tone: &'static str,
    note: &'static str,
}

/// The overview; `waiting` exception requests are a link to the queue above the cards.
fn render(o: &Overview, now: i64, waiting: u64) -> Markup {
    let cards = [
        Card {
            label: "Endpoints online",
            value: o.endpoints_online,
            href: "/endpoints?status=online",
            tone: "ok",
            note: "seen in the last 15 min",
        },
        Card {
            label: "Endpoints offline",
            value: o.endpoints_offline,
            href: "/endpoints?status=offline",
            tone: "neutral",
            note: "enrolled, not seen lately",
        },
        Card {
            label: "MCP servers",
            value: o.servers,
            href: "/servers/list",
            tone: "info",
            note: "configured on endpoints",
        },
        Card { label: "Clients", value: o.clients, href: "/endpoints", tone: "info", note: "MCP client installations" },
        Card {
            label: "Services",
            value: o.services,
            href: "/services",
            tone: "info",
            note: "enterprise services reached",
        },
        Card {
            label: "Literal secrets",
            value: o.literal_secrets_distinct,
            href: "/credentials",
            tone: "danger",
            note: "distinct secrets",
        },
        Card {
            label: "High findings",
            value: o.findings_high,
            href: "/findings?severity=high",
            tone: "sev-high",
            note: "open",
        },
        Card {
            label: "Critical findings",
            value: o.findings_critical,
            href: "/findings?severity=critical",
            tone: "sev-critical",
            note: "open",
        },
    ];
    html! {
        div.page-head {
            h1 { "Overview" }
            p.lede {
                (o.endpoints) @if o.endpoints == 1 { " endpoint enrolled. " } @else { " endpoints enrolled. " }
                @if let Some(at) = o.rollup_refreshed_at {
                    "Counts are live; the trend's point for today was written " (time_ago(at, now)) "."
                } @else {
                    "Counts are live; the trend's first daily point is not written yet."
                }
            }
        }
        @if waiting > 0 {
            p.flash.requests-waiting role="status" {
                (super::exceptions::waiting_link(waiting, false)) " for an admin's decision."
            }
        }
        section.cards aria-label="Fleet counters" {
            @for card in &cards {
                a class={ "card stat " (card.tone) } href=(card.href) {
                    span.stat-label { (card.label) }
                    @let secrets = card.href == "/credentials";
                    span class={ "stat-value" @if secrets { " distinct-secrets" } } { (card.value) }
                    span.stat-note {
                        (card.note)
                        // The same secrets counted by place, as the Credentials page says them.
                        @if secrets {
                            ", in " span.secret-uses { (o.literal_secrets) } " "
                            (plural(o.literal_secrets, "use", "uses"))
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Last 30 days" }
            (trend_chart(&with_today_as_the_cards_say(o, now)))
        }
    }
}

/// The trend with today's point taken from the counters the cards show, so chart and cards never
/// disagree: the stored daily point is written by the rollup and lags the live counters (a
/// fresh install showed 0 endpoints online in the chart and 1 on the card).
fn with_today_as_the_cards_say(o: &Overview, now: i64) -> Vec<DailyPoint> {
    let today = now - now.rem_euclid(86_400);
    let mut trend: Vec<DailyPoint> = o.trend.iter().filter(|p| p.day < today).cloned().collect();
    trend.push(DailyPoint {
        day: today,
        endpoints: o.endpoints,
        endpoints_online: o.endpoints_online,
        servers: o.servers,
        clients: o.clients,
        services: o.services,
        literal_secrets: o.literal_secrets,
        findings_high: o.findings_high,
        findings_critical: o.findings_critical,
    });
    trend
}

/// One line of the chart: legend label, class, value of a day.
struct Series {
    label: &'static str,
    class: &'static str,
    value: fn(&DailyPoint) -> i64,
}

const SERIES: [Series; 4] = [
    Series { label: "Endpoints online", class: "s-online", value: |p| p.endpoints_online },
    Series { label: "MCP servers", class: "s-servers", value: |p| p.servers },
    Series { label: "Literal secret uses", class: "s-secrets", value: |p| p.literal_secrets },
    Series { label: "High + critical findings", class: "s-findings", value: |p| p.findings_high + p.findings_critical },
];

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;
const TICKS: i64 = 5;

/// The smallest [`TICKS`] times (1, 2 or 5 times a power of ten) at or above `max`, so the
/// gridlines fall on round whole numbers.
fn nice_ceiling(max: i64) -> i64 {
    let max = max.max(TICKS);
    let mut step = 1i64;
    loop {
        for factor in [1, 2, 5] {
            let candidate = step.saturating_mul(factor).saturating_mul(TICKS);
            if candidate >= max {
                return candidate;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

/// The trend as an SVG line chart with axes, gridlines, per-point tooltips and a legend.
pub fn trend_chart(trend: &[DailyPoint]) -> Markup {
    if trend.is_empty() {
        return html! { p.empty { "No trend yet: the first daily point is written by the next rollup." } };
    }
    let max = trend.iter().flat_map(|p| SERIES.iter().map(move |s| (s.value)(p))).max().unwrap_or(0);
    let ceiling = nice_ceiling(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = trend.len();
    let x = |i: usize| if n == 1 { LEFT + plot_w / 2.0 } else { LEFT + plot_w * i as f64 / (n - 1) as f64 };
    let y = |v: i64| TOP + plot_h - plot_h * v as f64 / ceiling as f64;
    // Label about six days across, always the last.
    let every = n.div_ceil(6).max(1);
    let labelled = |i: usize| i == n - 1 || (i.is_multiple_of(every) && n - 1 - i >= every / 2);
    let first = trend.first().map(|p| short_date(p.day)).unwrap_or_default();
    let last = trend.last().map(|p| short_date(p.day)).unwrap_or_default();
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-label={ "Daily trend from " (first) " to " (last) } {
                title { "Daily trend from " (first) " to " (last) }
                g.grid {
                    @for t in 0..=TICKS {
                        @let value = ceiling * t / TICKS;
                        line x1=(fmt(LEFT)) x2=(fmt(WIDTH - RIGHT)) y1=(fmt(y(value))) y2=(fmt(y(value))) {}
                        text.ylabel x=(fmt(LEFT - 8.0)) y=(fmt(y(value) + 4.0)) text-anchor="end" { (value) }
                    }
                }
                g.xaxis {
                    line x1=(fmt(LEFT)) x2=(fmt(WIDTH - RIGHT)) y1=(fmt(TOP + plot_h)) y2=(fmt(TOP + plot_h)) {}
                    @for (i, point) in trend.iter().enumerate() {
                        @if labelled(i) {
                            text.xlabel x=(fmt(x(i))) y=(fmt(HEIGHT - BOTTOM + 20.0)) text-anchor="middle" {
                                (short_date(point.day))
                            }
                        }
                    }
                    text.axis-title x=(fmt(LEFT + plot_w / 2.0)) y=(fmt(HEIGHT - 4.0)) text-anchor="middle" { "Day (UTC)" }
                }
                @for series in &SERIES {
                    @let points = trend.iter().enumerate()
                        .map(|(i, p)| format!("{},{}", fmt(x(i)), fmt(y((series.value)(p)))))
                        .collect::<Vec<_>>().join(" ");
                    g class={ "series " (series.class) } {
                        polyline points=(points) fill="none" {}
                        @for (i, p) in trend.iter().enumerate() {
                            circle cx=(fmt(x(i))) cy=(fmt(y((series.value)(p)))) r="3" {
                                title { (short_date(p.day)) ": " ((series.value)(p)) " " (series.label) }
                            }
                        }
                    }
                }
            }
            figcaption {
                ul.legend {
                    @for series in &SERIES {
                        li { span class={ "swatch " (series.class) } {} (series.label) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: i64, servers: i64) -> DailyPoint {
        DailyPoint {
            day,
            endpoints: 3,
            endpoints_online: 2,
            servers,
            clients: 1,
            services: 1,
            literal_secrets: 1,
            findings_high: 1,
            findings_critical: 0,
        }
    }

    #[test]
    fn todays_point_is_what_the_cards_say() {
        let day = 1_800_000_000 - 1_800_000_000 % 86_400;
        let overview = Overview {
            endpoints: 1,
            endpoints_online: 1,
            endpoints_offline: 0,
            servers: 7,
            clients: 2,
            services: 3,
            literal_secrets: 4,
            literal_secrets_distinct: 3,
            findings_high: 1,
            findings_critical: 0,
            // The rollup's stale point for today, and yesterday's.
            trend: vec![point(day - 86_400, 5), DailyPoint { endpoints_online: 0, ..point(day, 5) }],
            rollup_refreshed_at: None,
        };
        let trend = with_today_as_the_cards_say(&overview, day + 3_600);
        assert_eq!(trend.len(), 2);
        assert_eq!(trend[0], point(day - 86_400, 5));
        assert_eq!((trend[1].day, trend[1].endpoints_online, trend[1].servers), (day, 1, 7));
        let html = render(&overview, day + 3_600, 0).into_string();
        assert!(html.contains("1 endpoint enrolled."), "{html}");
    }

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(10), 10);
        assert_eq!(nice_ceiling(11), 25);
        assert_eq!(nice_ceiling(37), 50);
        assert_eq!(nice_ceiling(51), 100);
        assert_eq!(nice_ceiling(1_000), 1_000);
    }

    #[test]
    fn the_chart_has_axes_a_legend_and_no_inline_style() {
        let days: Vec<DailyPoint> = (0..30).map(|d| point(1_800_000_000 + d * 86_400, 10 + d)).collect();
        let svg = trend_chart(&days).into_string();
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert_eq!(svg.matches("<circle").count(), 120);
        assert!(svg.contains(">Day (UTC)</text>") && svg.contains("High + critical findings"));
        assert!(svg.contains(">50</text>"), "y axis up to the ceiling above 39: {svg}");
        assert!(!svg.contains("style="));
        // SVG children are closed explicitly: the HTML parser does not know SVG void elements.
        assert!(!svg.contains("<line") || svg.contains("</line>"));
        let one = trend_chart(&days[..1]).into_string();
        assert!(one.contains("<polyline"));
        assert!(trend_chart(&[]).into_string().contains("class=\"empty\""));
    }
}
