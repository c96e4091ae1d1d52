//! Domain rules shared by the ACX services, kept in one crate so that ingest and scoring agree
//! byte for byte on what a value means.
//!
//! - [`identifiers`]: normalising seller identifiers (registration and tax numbers, bank
//!   accounts, addresses, e-mail, phone, web domains) on top of the field's libraries, one
//!   module per kind, versioned; [`hashing`] turns them into keyed hashes with the exchange's
//!   secret keys, so that members can match sellers without ever sharing the raw values.
//! - [`names`]: company and shop names folded for comparison (Unicode, accents, scripts,
//!   legal forms from the ISO 20275 list).
//! - [`gtin`]: product numbers in their GTIN-14 form.
//! - [`codes`]: checks for the standard codes that reports carry (ISO 3166-1 countries,
//!   ISO 4217 currencies, GS1 GTINs, HS tariff codes, telephone calling codes).
//! - [`money`]: exact decimal amounts as integer millionths, so prices never pass through
//!   floating point; [`rates`]: the European Central Bank's reference rates by date, to
//!   compare amounts in different currencies.
//! - [`accounts`]: platform ids and seller account references in their registered form.
//! - [`customs`]: what a customs declaration may hold, the one set of rules liaison and
//!   scoring both apply; [`parties`]: what may describe a party to look for.

/// Platform ids and seller account references in their registered form.
pub mod accounts;
/// Checks for the standard codes carried in reports: countries, currencies, GTINs, HS codes
/// and telephone calling codes. Lists are sorted static arrays searched by binary search.
pub mod codes;
/// Which country codes a declaration of a given day may carry (ISO 3166-3 withdrawals,
/// codes assigned since 2000).
pub mod country_dates;
/// Which ISO 4217 codes were money on a given day (withdrawn and newly issued codes).
pub mod currency_dates;
/// The rules of a customs declaration's fields, shared by liaison and scoring.
pub mod customs;
/// GTINs in their canonical GTIN-14 form.
pub mod gtin;
/// Contract identifiers to keyed hashes, one set of rules for every service, and how hashes
/// of different normalisation versions link.
pub mod hashing;
/// Identifier normalisation and keyed (HMAC-SHA256) hashing: the same real-world value always
/// gives the same normalised string, and so the same hash, whoever reported it.
pub mod identifiers;
/// Money amounts as exact integer millionths of the currency unit, parsed from and formatted to
/// plain decimal text.
pub mod money;
/// Company and shop names analysed for comparison: Unicode forms, accents, scripts, legal
/// forms (ISO 20275), fillers and places.
pub mod names;
/// What may describe a party to look for among the accounts, for liaison and scoring alike.
pub mod parties;
/// Reference exchange rates by date (European Central Bank), built in and replaceable.
pub mod rates;
/// Free text and ids from callers.
pub mod text;
/// Units of quantity (UN/ECE Recommendation 20 and the national forms declarations use):
/// which count items, so a value per unit can be set beside a price per item.
pub mod units;
