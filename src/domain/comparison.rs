//! Offices side by side: the median of an indicator over offices, and their ranks by it.

/// The median of some offices' values of one indicator (those that have one).
pub fn median_of(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut known: Vec<f64> = values.into_iter().flatten().collect();
    if known.is_empty() {
        return None;
    }
    known.sort_by(f64::total_cmp);
    let n = known.len();
    let middle = (known[(n - 1) / 2] + known[n / 2]) / 2.0;
    Some((middle * 100.0).round() / 100.0)
}

/// Ranks by a value, highest first (lowest first when `lower_is_better`); ties share a rank,
/// and what has no value comes last, unranked.
pub fn ranks(values: &[Option<f64>], lower_is_better: bool) -> Vec<Option<usize>> {
    values
        .iter()
        .map(|value| {
            value.map(|value| {
                1 + values
                    .iter()
                    .flatten()
                    .filter(|other| match lower_is_better {
                        true => **other < value,
                        false => **other > value,
                    })
                    .count()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_share_ties_and_leave_the_unknown_last() {
        let values = [Some(50.0), None, Some(80.0), Some(50.0)];
        assert_eq!(ranks(&values, false), [Some(2), None, Some(1), Some(2)]);
        assert_eq!(ranks(&values, true), [Some(1), None, Some(3), Some(1)]);
        assert_eq!(median_of(values), Some(50.0));
    }
}
