//! E-mail addresses: the local part as mail providers compare it, the domain in its IDNA
//! ASCII form (see [`super::web_domain`]).

/// Normalises a cleaned e-mail address ([`super::text::clean`]).
///
/// The address is split at its last `@`. The local part is lower-cased (also in other
/// scripts: internationalised addresses are accepted), must not contain spaces, and loses a
/// `+tag` suffix; for `gmail.com` and `googlemail.com` its dots are removed and the domain
/// becomes `gmail.com`. The domain goes through IDNA to ASCII and must be a valid DNS name of
/// at least two labels. `"John.Doe+shop@GoogleMail.com"` gives `"johndoe@gmail.com"`;
/// `"info@bücherwurm-versand.de"` gives `"info@xn--bcherwurm-versand-22b.de"`.
///
/// Error: "is not a valid e-mail address".
///
/// With `labels` (version 3 on), a `mailto:` scheme and a display name (`Sales <...>`) are
/// dropped first ([`super::labels::email`]).
pub fn normalize(value: &str, labels: bool) -> Result<String, String> {
    const INVALID: &str = "is not a valid e-mail address";
    let value = if labels {
        super::labels::email(value)
    } else {
        value
    };
    let (local, domain) = value.rsplit_once('@').ok_or(INVALID)?;
    let local = local.to_lowercase();
    if local.is_empty() || local.contains('@') || local.chars().any(char::is_whitespace) {
        return Err(INVALID.to_owned());
    }
    let domain = super::web_domain::to_ascii(domain).ok_or(INVALID)?;
    let local = local
        .split_once('+')
        .map_or(local.as_str(), |(base, _tag)| base);
    let (local, domain) = match domain.as_str() {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com".to_owned()),
        _ => (local.to_owned(), domain),
    };
    if local.is_empty() {
        return Err(INVALID.to_owned());
    }
    Ok(format!("{local}@{domain}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{IdentifierKind::Email, normalize as normalize_kind};

    fn ok(raw: &str) -> String {
        normalize_kind(Email, raw, None).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn case_tags_and_gmail_dots() {
        assert_eq!(ok("John.Doe+shop@GoogleMail.com"), "johndoe@gmail.com");
        assert_eq!(ok("j.o.h.n@gmail.com"), "john@gmail.com");
        assert_eq!(ok("j.doe@outlook.com"), "j.doe@outlook.com");
        assert_eq!(ok("info+a+b@shop-example.com"), "info@shop-example.com");
        assert_eq!(ok("  Wang.Wei@163.COM "), "wang.wei@163.com");
    }

    #[test]
    fn internationalised_domains_and_local_parts() {
        let ascii = ok("info@xn--bcherwurm-versand-22b.de");
        assert_eq!(ascii, "info@xn--bcherwurm-versand-22b.de");
        assert_eq!(ok("info@bücherwurm-versand.de"), ascii);
        assert_eq!(ok("INFO@BÜCHERWURM-VERSAND.DE"), ascii);
        assert_eq!(ok("info@bu\u{308}cherwurm-versand.de"), ascii);
        assert_eq!(ok("Пётр@пример.рф"), "пётр@xn--e1afmkfd.xn--p1ai");
        assert_eq!(ok("用户@例子.广告"), "用户@xn--fsqu00a.xn--4rr70v");
    }

    #[test]
    fn invisible_and_full_width_characters_do_not_matter() {
        assert_eq!(ok("in\u{200b}fo@shop-example.com"), "info@shop-example.com");
        assert_eq!(
            ok("\u{feff}info@shop-example.com\u{200d}"),
            "info@shop-example.com"
        );
        assert_eq!(
            ok("ｉｎｆｏ＠ｓｈｏｐ－ｅｘａｍｐｌｅ．ｃｏｍ"),
            "info@shop-example.com"
        );
    }

    #[test]
    fn invalid_addresses_are_refused() {
        for raw in [
            "john.doe",
            "john@doe@example.com",
            "@example.com",
            "john@",
            "john@localhost",
            "john@exa mple.com",
            "jo hn@example.com",
            "john@exam_ple.com",
            "john@example..com",
            "john@.example.com",
            "+tag@example.com",
            "...+x@gmail.com",
            "john@192.168.0.1",
        ] {
            assert_eq!(
                normalize_kind(Email, raw, None).unwrap_err(),
                "is not a valid e-mail address",
                "{raw}"
            );
        }
    }
}
