//! Italian national holidays, for any year: the fixed dates, Easter and Easter Monday.

use chrono::{Days, NaiveDate};

/// A day every office is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: &'static str,
}

/// Easter Sunday in the Gregorian calendar (the anonymous Gregorian algorithm).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or_default()
}

/// The national holidays of `year`, in date order.
pub fn national_holidays(year: i32) -> Vec<Holiday> {
    let fixed: &[(u32, u32, &'static str)] = &[
        (1, 1, "Capodanno"),
        (1, 6, "Epifania"),
        (4, 25, "Festa della Liberazione"),
        (5, 1, "Festa del Lavoro"),
        (6, 2, "Festa della Repubblica"),
        (8, 15, "Assunzione (Ferragosto)"),
        (11, 1, "Ognissanti"),
        (12, 8, "Immacolata Concezione"),
        (12, 25, "Natale"),
        (12, 26, "Santo Stefano"),
    ];
    let mut holidays: Vec<Holiday> = fixed
        .iter()
        .filter_map(|(month, day, name)| {
            NaiveDate::from_ymd_opt(year, *month, *day).map(|date| Holiday { date, name })
        })
        .collect();
    // Law 151/2025 made 4 October (Saint Francis of Assisi) a national holiday again from 2026.
    if year >= 2026
        && let Some(date) = NaiveDate::from_ymd_opt(year, 10, 4)
    {
        holidays.push(Holiday {
            date,
            name: "San Francesco d'Assisi",
        });
    }
    let easter = easter_sunday(year);
    holidays.push(Holiday {
        date: easter,
        name: "Pasqua",
    });
    if let Some(monday) = easter.checked_add_days(Days::new(1)) {
        holidays.push(Holiday {
            date: monday,
            name: "Lunedì dell'Angelo (Pasquetta)",
        });
    }
    holidays.sort_by_key(|holiday| holiday.date);
    holidays
}

/// The national holiday falling on `date`, if any.
pub fn national_holiday(date: NaiveDate) -> Option<Holiday> {
    use chrono::Datelike;
    national_holidays(date.year())
        .into_iter()
        .find(|holiday| holiday.date == date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_falls_on_the_known_dates() {
        let known = [
            (2019, date(2019, 4, 21)),
            (2024, date(2024, 3, 31)),
            (2025, date(2025, 4, 20)),
            (2026, date(2026, 4, 5)),
            (2027, date(2027, 3, 28)),
            (2038, date(2038, 4, 25)),
        ];
        for (year, easter) in known {
            assert_eq!(easter_sunday(year), easter, "{year}");
        }
    }

    #[test]
    fn a_year_has_its_fixed_holidays_and_easter_monday() {
        let holidays = national_holidays(2027);
        assert_eq!(holidays.len(), 13);
        assert_eq!(
            national_holiday(date(2027, 3, 29)).unwrap().name,
            "Lunedì dell'Angelo (Pasquetta)"
        );
        assert_eq!(
            national_holiday(date(2027, 6, 2)).unwrap().name,
            "Festa della Repubblica"
        );
        assert_eq!(
            national_holiday(date(2027, 10, 4)).unwrap().name,
            "San Francesco d'Assisi"
        );
        assert!(national_holiday(date(2025, 10, 4)).is_none());
        assert!(
            national_holiday(date(2027, 6, 29)).is_none(),
            "patron days are per office"
        );
    }
}
