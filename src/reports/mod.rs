//! The evaluation's reports as files for people: CSV for spreadsheets, and printable HTML with
//! charts drawn on the server (no script). Both read the indicators through one list
//! (`Indicators::rows`), so every format shows the same numbers as the JSON.

pub mod svg;

use std::sync::LazyLock;

use minijinja::{Environment, Value, context};

use crate::{
    domain::indicators::{Indicators, Value as Shown, json_number},
    use_cases::indicators::{OfficeReport, WEEKDAYS, national::NationalReport},
};
use svg::Bar;

/// What each indicator is called in a report, by its path.
pub fn label(key: &str) -> String {
    let known = match key {
        "bookings" => "Bookings (visits in the period)",
        "by_channel.web" => "Booked online",
        "by_channel.desk" => "Booked at the desk",
        "by_channel.intermediary" => "Booked by an intermediary",
        "by_channel.invitation" => "Booked through an invitation",
        "cancelled.by_applicant" => "Cancelled by the applicant",
        "cancelled.by_office" => "Cancelled by the office",
        "moves" => "Moved to another time",
        "attended" => "Attended",
        "no_shows" => "No-shows",
        "no_show_rate_percent" => "No-show rate (%)",
        "seats_offered" => "Seats offered",
        "seats_booked" => "Seats booked",
        "utilisation_percent" => "Utilisation (%)",
        "median_days_to_visit" => "Median days from booking to visit",
        "lead_time.samples" => "Lead time: daily samples",
        "lead_time.mean_days" => "Lead time to the first free seat (mean days)",
        "lead_time.longest_days" => "Lead time: longest (days)",
        "lead_time.without_free_seat" => "Lead time: samples with no free seat",
        "waitlist.joined" => "Waitlist: joined",
        "waitlist.served" => "Waitlist: given an earlier seat",
        "waitlist.still_waiting" => "Waitlist: still waiting",
        "waitlist.withdrawn" => "Waitlist: withdrawn",
        "waitlist.exhausted" => "Waitlist: offers exhausted",
        "lottery.entries" => "Lottery: entries",
        "lottery.won" => "Lottery: won",
        "lottery.lost" => "Lottery: lost",
        "mail.queued" => "Mail queued",
        "mail.sent" => "Mail sent",
        "mail.failed" => "Mail failed",
        "mail.bounced" => "Mail bounced",
        "letters_replaced" => "Registered letters replaced",
        "money_saved_eur" => "Money saved (EUR)",
        "satisfaction.surveys_sent" => "Surveys sent",
        "satisfaction.answers" => "Survey answers",
        "satisfaction.response_rate_percent" => "Survey response rate (%)",
        "satisfaction.mean_rating" => "Mean rating (1–5)",
        "satisfaction.had_documents_percent" => "Had every document (%)",
        "satisfaction.desk_wait.under_15" => "Waited under 15 minutes",
        "satisfaction.desk_wait.from_15_to_30" => "Waited 15–30 minutes",
        "satisfaction.desk_wait.from_30_to_60" => "Waited 30–60 minutes",
        "satisfaction.desk_wait.over_60" => "Waited over an hour",
        _ => "",
    };
    match key.strip_prefix("satisfaction.ratings.") {
        Some(rating) => format!("Rated {rating}"),
        None if known.is_empty() => key.to_owned(),
        None => known.to_owned(),
    }
}

/// A CSV field, quoted where it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn line(fields: &[String]) -> String {
    let fields: Vec<String> = fields.iter().map(|f| field(f)).collect();
    format!("{}\r\n", fields.join(","))
}

fn number(value: Option<f64>) -> String {
    value.map(json_number).unwrap_or_default()
}

/// An office's report as CSV: one line per indicator (`indicator,value`), then by service and by
/// weekday and hour under their own paths.
pub fn office_csv(report: &OfficeReport) -> String {
    let mut csv = line(&["indicator".into(), "value".into()]);
    for (key, value) in report.indicators.rows() {
        csv.push_str(&line(&[format!("indicators.{key}"), value.to_string()]));
    }
    for (code, service) in &report.by_service {
        let at = |what: &str| format!("by_service.{code}.{what}");
        csv.push_str(&line(&[
            at("seats_offered"),
            service.seats_offered.to_string(),
        ]));
        csv.push_str(&line(&[
            at("seats_booked"),
            service.seats_booked.to_string(),
        ]));
        csv.push_str(&line(&[
            at("utilisation_percent"),
            number(service.utilisation_percent),
        ]));
        csv.push_str(&line(&[
            at("lead_time_mean_days"),
            number(service.lead_time_mean_days),
        ]));
    }
    for (at, cell) in &report.by_weekday_hour {
        let at = |what: &str| format!("by_weekday_hour.{at}.{what}");
        csv.push_str(&line(&[
            at("seats_offered"),
            cell.seats_offered.to_string(),
        ]));
        csv.push_str(&line(&[at("seats_booked"), cell.seats_booked.to_string()]));
        csv.push_str(&line(&[
            at("utilisation_percent"),
            number(cell.utilisation_percent),
        ]));
    }
    csv
}

/// The national view as CSV: one line per office (ranked), then the median and the groups, a
/// column per indicator.
pub fn national_csv(report: &NationalReport) -> String {
    let keys: Vec<&str> = Indicators::rows(&report.groups.all)
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    let mut header: Vec<String> = ["row", "office", "name", "stage", "pilot", "rank"]
        .map(String::from)
        .to_vec();
    header.extend(keys.iter().map(|k| (*k).to_owned()));
    let mut csv = line(&header);
    let values = |indicators: &Indicators| -> Vec<String> {
        indicators
            .rows()
            .into_iter()
            .map(|(_, v)| v.to_string())
            .collect()
    };
    for office in &report.offices {
        let mut fields = vec![
            "office".to_owned(),
            office.code.clone(),
            office.name.clone(),
            crate::domain::Named::as_str(office.stage).to_owned(),
            office.pilot.to_string(),
            office.rank.map(|r| r.to_string()).unwrap_or_default(),
        ];
        fields.extend(values(&office.indicators));
        csv.push_str(&line(&fields));
    }
    let mut median = vec![
        "national_median".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ];
    median.extend(
        keys.iter()
            .map(|k| number(report.national_median.get(k).copied().flatten())),
    );
    csv.push_str(&line(&median));
    let mut groups = vec![("group", &report.groups)];
    if let Some(split) = &report.split {
        groups.push(("before", &split.before));
        groups.push(("after", &split.after));
    }
    for (when, group) in groups {
        for (name, indicators) in [
            ("pilot", &group.pilot),
            ("rest", &group.rest),
            ("all", &group.all),
        ] {
            let mut fields = vec![
                format!("{when}:{name}"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ];
            fields.extend(values(indicators));
            csv.push_str(&line(&fields));
        }
    }
    csv
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_template("report.html", include_str!("templates/report.html"))
        .expect("the report layout parses");
    env.add_template("office.html", include_str!("templates/office.html"))
        .expect("the office report parses");
    env.add_template("national.html", include_str!("templates/national.html"))
        .expect("the national report parses");
    env
});

/// Rows as the HTML tables show them: the indicator's path, its label and its value.
fn table(indicators: &Indicators) -> Vec<(String, String, String)> {
    indicators
        .rows()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), label(key), value.to_string()))
        .collect()
}

fn count_bar(label: &str, value: Shown) -> Bar {
    Bar {
        label: label.to_owned(),
        value: value.number(),
        hatched: false,
    }
}

/// An office's report as a printable page.
pub fn office_html(report: &OfficeReport) -> Result<String, minijinja::Error> {
    let rows = report.indicators.rows();
    let get = |key: &str| {
        rows.iter()
            .find(|(k, _)| *k == key)
            .map_or(Shown::Number(None), |(_, v)| *v)
    };
    let channels = svg::bars(
        "Bookings by channel",
        &["web", "desk", "intermediary", "invitation"].map(|c| {
            count_bar(
                &label(&format!("by_channel.{c}")),
                get(&format!("by_channel.{c}")),
            )
        }),
        "",
        None,
    );
    let outcomes = svg::bars(
        "What became of the visits",
        &[
            "attended",
            "no_shows",
            "cancelled.by_applicant",
            "cancelled.by_office",
            "moves",
        ]
        .map(|k| count_bar(&label(k), get(k))),
        "",
        None,
    );
    let ratings = svg::bars(
        "Survey answers by rating",
        &["5", "4", "3", "2", "1"].map(|r| {
            count_bar(
                &label(&format!("satisfaction.ratings.{r}")),
                get(&format!("satisfaction.ratings.{r}")),
            )
        }),
        "",
        None,
    );
    let hours: std::collections::BTreeSet<String> = report
        .by_weekday_hour
        .keys()
        .filter_map(|key| key.split_once('-').map(|(_, hour)| hour.to_owned()))
        .collect();
    let hours: Vec<String> = hours.into_iter().collect();
    let days: Vec<String> = WEEKDAYS
        .iter()
        .filter(|day| {
            hours
                .iter()
                .any(|h| report.by_weekday_hour.contains_key(&format!("{day}-{h}")))
        })
        .map(|day| (*day).to_owned())
        .collect();
    let grid = svg::grid(
        "Utilisation (%) by weekday and hour",
        &days,
        &hours.iter().map(|h| format!("{h}:00")).collect::<Vec<_>>(),
        |r, c| {
            report
                .by_weekday_hour
                .get(&format!("{}-{}", days[r], hours[c]))
                .and_then(|cell| cell.utilisation_percent)
        },
    );
    TEMPLATES.get_template("office.html")?.render(context! {
        report => Value::from(minijinja::value::Serde(report)),
        rows => table(&report.indicators),
        charts => [channels, outcomes, grid, ratings].map(Value::from_safe_string),
    })
}

/// The national view as a printable page.
pub fn national_html(report: &NationalReport) -> Result<String, minijinja::Error> {
    let value_of = |indicators: &Indicators| {
        indicators
            .rows()
            .into_iter()
            .find(|(k, _)| *k == report.ranked_by)
            .map_or(Shown::Number(None), |(_, v)| v)
    };
    let bars: Vec<Bar> = report
        .offices
        .iter()
        .map(|office| Bar {
            // The code: a name would not fit beside the bar; the table below names each office.
            label: office.code.clone(),
            value: value_of(&office.indicators).number(),
            hatched: office.pilot,
        })
        .collect();
    let median = report
        .national_median
        .get(report.ranked_by.as_str())
        .copied()
        .flatten();
    let chart = svg::bars(
        &format!("{} — pilot offices hatched", label(&report.ranked_by)),
        &bars,
        "",
        median,
    );
    let columns = [
        "bookings",
        "utilisation_percent",
        "no_show_rate_percent",
        "median_days_to_visit",
        "lead_time.mean_days",
        "letters_replaced",
        "money_saved_eur",
        "satisfaction.mean_rating",
    ];
    let pick = |indicators: &Indicators| -> Vec<String> {
        let rows = indicators.rows();
        columns
            .iter()
            .map(|key| {
                rows.iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            })
            .collect()
    };
    let offices: Vec<Value> = report
        .offices
        .iter()
        .map(|office| {
            context! {
                code => &office.code, name => &office.name, pilot => office.pilot,
                rank => office.rank, values => pick(&office.indicators),
            }
        })
        .collect();
    let mut groups = vec![("Whole period", &report.groups)];
    if let Some(split) = &report.split {
        groups.push(("Before", &split.before));
        groups.push(("From", &split.after));
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(when, group)| {
            context! {
                when => when,
                // The three lists name the same indicators in the same order.
                rows => group.pilot.rows().into_iter()
                    .zip(group.rest.rows())
                    .zip(group.all.rows())
                    .map(|(((key, pilot), (_, rest)), (_, all))| {
                        (label(key), pilot.to_string(), rest.to_string(), all.to_string())
                    })
                    .collect::<Vec<_>>(),
            }
        })
        .collect();
    TEMPLATES.get_template("national.html")?.render(context! {
        report => Value::from(minijinja::value::Serde(report)),
        chart => Value::from_safe_string(chart),
        columns => columns.map(label),
        column_keys => columns,
        median => columns.map(|k| number(report.national_median.get(k).copied().flatten())),
        offices => offices,
        groups => groups,
    })
}
