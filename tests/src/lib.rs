//! End-to-end tests live in `tests/tests/`; this crate holds nothing else.
