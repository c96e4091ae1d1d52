//! What an inspection result may say: its own fields (RecordInspectionResult's checks,
//! which also put its amounts and texts in canonical form), and what it may not say of the
//! declaration it is about.

use acx_proto::{
    liaison::{Declaration, InspectionResult},
    scoring::OutcomeKind,
};
use acx_runtime::{FieldViolation, time::now_micros};

/// How long before its declaration's time an inspection may end: a day, for systems that
/// record a declaration's date only (midnight in one time zone, an inspection time in
/// another). Earlier is a date mixed up (found by a tester: an inspection in 2001 of a
/// declaration of 2025 was taken and fed scoring's outcome timing).
pub const INSPECTION_LEAD_SECONDS: i64 = 86_400;

/// What an inspection result may not say of its declaration (`timed`: the caller gave the
/// inspection's time): that it ended more than [`INSPECTION_LEAD_SECONDS`] before the
/// declaration, or, for UNDERVALUATION_CONFIRMED, an assessed value not above what its
/// lines in the assessed value's currency declared (lines in others only add to the total;
/// found by a tester: JPY 0.10 assessed on JPY 0.35 declared was taken and counted as
/// fraud).
pub fn contradictions(
    result: &InspectionResult,
    declaration: &Declaration,
    timed: bool,
) -> Vec<FieldViolation> {
    use acx_domain::money::{format_micros, parse_amount_micros};
    let mut violations = Vec::new();
    if let (true, Some(declared), Some(inspected)) = (
        timed,
        declaration.declaration_time.as_ref(),
        result.inspect_time.as_ref(),
    ) && inspected.seconds < declared.seconds - INSPECTION_LEAD_SECONDS
    {
        violations.push(FieldViolation::new(
            "result.inspect_time",
            format!(
                "must not be more than a day before the declaration's time ({}): an \
                 inspection of a declaration follows it",
                acx_domain::rates::format_day(acx_domain::rates::day_of(declared.seconds))
            ),
        ));
    }
    if result.kind == OutcomeKind::UndervaluationConfirmed as i32
        && let Some(assessed) = &result.assessed_value
        && let Ok(assessed_micros) = parse_amount_micros(&assessed.amount)
    {
        // What the lines in the assessed value's currency declared: a lower bound of the
        // declared total (lines in other currencies only add to it).
        let same_currency: Vec<i64> = declaration
            .lines
            .iter()
            .filter_map(|line| line.declared_value.as_ref())
            .filter(|v| v.currency_code == assessed.currency_code)
            .filter_map(|v| parse_amount_micros(&v.amount).ok())
            .collect();
        let total = same_currency
            .iter()
            .try_fold(0_i64, |total, micros| total.checked_add(*micros));
        if !same_currency.is_empty()
            && let Some(total) = total
            && assessed_micros <= total
        {
            violations.push(FieldViolation::new(
                "result.assessed_value",
                format!(
                    "must be above what its lines declared in {} ({}) for UNDERVALUATION_CONFIRMED, \
                     which says the declared value was too low",
                    assessed.currency_code,
                    format_micros(total)
                ),
            ));
        }
    }
    violations
}

/// Checks an inspection result and puts its amounts and texts in canonical form; the
/// violations under `result`.
pub fn validate_result(result: &mut InspectionResult) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    match OutcomeKind::try_from(result.kind) {
        Ok(OutcomeKind::Unspecified) => {
            violations.push(FieldViolation::new("result.kind", "is required"))
        }
        Err(_) => violations.push(FieldViolation::new("result.kind", "is not a known outcome")),
        Ok(_) => {}
    }
    // As a declaration's quantities, and before the checks: a retry with float noise is
    // the same result, and noise is not a seizure.
    result.seized_quantity = acx_domain::customs::to_millionth(result.seized_quantity);
    if !(0.0..acx_domain::customs::MAX_MEASURE).contains(&result.seized_quantity) {
        violations.push(FieldViolation::new(
            "result.seized_quantity",
            "must be a number from 0 to 9,999,999,999.999999 (0 when nothing was seized)",
        ));
    } else if result.kind == OutcomeKind::Cleared as i32 && result.seized_quantity > 0.0 {
        // Contradictory: which of the two is the mistake cannot be told from here.
        violations.push(FieldViolation::new(
            "result.seized_quantity",
            "must be 0 when the shipment was CLEARED (nothing seized); a seizure is \
             COUNTERFEIT_SEIZED",
        ));
    }
    let at = result.inspect_time.as_ref().map(|t| t.seconds);
    if result.kind == OutcomeKind::Cleared as i32 {
        // Nothing was wrong, so nothing was reassessed (found by a tester: CLEARED with an
        // extra duty of EUR 500 was taken).
        for (field, money) in [
            ("result.assessed_value", &result.assessed_value),
            ("result.extra_duty", &result.extra_duty),
        ] {
            if money.is_some() {
                violations.push(FieldViolation::new(
                    field,
                    "must be unset when the shipment was CLEARED; a higher value assessed is \
                     UNDERVALUATION_CONFIRMED",
                ));
            }
        }
    }
    for (field, money) in [
        ("result.assessed_value", &mut result.assessed_value),
        ("result.extra_duty", &mut result.extra_duty),
    ] {
        if let Some(money) = money {
            for (sub, why) in acx_domain::money::canonicalize(money, at) {
                violations.push(FieldViolation::new(format!("{field}.{sub}"), why));
            }
        }
    }
    if let Some(time) = &result.inspect_time {
        let now = now_micros().div_euclid(1_000_000);
        if let Err((sub, why)) =
            acx_domain::customs::event_time_problem(time.seconds, time.nanos, now)
        {
            violations.push(FieldViolation::new(
                format!("result.inspect_time{sub}"),
                why,
            ));
        }
    }
    for (field, text, max) in [
        ("result.note", &mut result.note, 2000),
        ("result.rights_owner", &mut result.rights_owner, 300),
    ] {
        // Trimmed, as every other text customs sends (found by a tester: a retry with
        // `ACME ` for `ACME` was ALREADY_EXISTS).
        acx_domain::customs::trim_in_place(text);
        if let Some(why) = acx_domain::text::free_text_problem(text, max) {
            violations.push(FieldViolation::new(field, why));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use acx_proto::{common::Money, liaison::DeclarationLine};

    use super::*;

    fn money(currency: &str, amount: &str) -> Option<Money> {
        Some(Money {
            currency_code: currency.to_owned(),
            amount: amount.to_owned(),
        })
    }

    fn undervalued(assessed: &str) -> InspectionResult {
        InspectionResult {
            kind: OutcomeKind::UndervaluationConfirmed as i32,
            assessed_value: money("EUR", assessed),
            ..Default::default()
        }
    }

    /// Lines in other currencies only add to the declared total, so what the lines in the
    /// assessed value's currency declared is a bound below it (found by a tester: EUR 120
    /// assessed on lines of EUR 100, EUR 50 and USD 1,000 was taken).
    #[test]
    fn an_undervaluation_is_held_to_the_lines_in_its_currency() {
        let line = |currency, amount| DeclarationLine {
            declared_value: money(currency, amount),
            ..Default::default()
        };
        let declaration = Declaration {
            lines: vec![line("EUR", "100"), line("EUR", "50"), line("USD", "1000")],
            ..Default::default()
        };
        let fields = |assessed| {
            contradictions(&undervalued(assessed), &declaration, false)
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields("120"), ["result.assessed_value"]);
        assert_eq!(fields("150"), ["result.assessed_value"]);
        assert!(fields("150.01").is_empty());
        let in_yen = Declaration {
            lines: vec![line("JPY", "10")],
            ..Default::default()
        };
        assert!(contradictions(&undervalued("1"), &in_yen, false).is_empty());
    }

    #[test]
    fn a_cleared_shipment_has_no_reassessment() {
        let mut cleared = InspectionResult {
            kind: OutcomeKind::Cleared as i32,
            extra_duty: money("EUR", "500"),
            ..Default::default()
        };
        let fields: Vec<String> = validate_result(&mut cleared)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["result.extra_duty"]);
        // Noise is no seizure.
        let mut noisy = InspectionResult {
            kind: OutcomeKind::Cleared as i32,
            seized_quantity: 4e-7,
            ..Default::default()
        };
        assert!(validate_result(&mut noisy).is_empty());
        assert_eq!(noisy.seized_quantity, 0.0);
    }
}
