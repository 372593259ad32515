//! Keys for comparing customer company names in the registration duplicate check.
//!
//! Exact: trimmed, inner whitespace collapsed to one space, full-width ASCII folded to
//! half-width, Latin letters lower-cased.
//!
//! Fuzzy: as exact, then every space and punctuation mark (ASCII and CJK: （）【】，。、·
//! “”‘’ and the like) dropped; the 省/市 character closing a leading place name (深圳市,
//! 广东省深圳市) dropped so 深圳市某某 and 深圳某某 compare equal; then legal suffixes
//! stripped from the end, repeatedly: 股份有限公司, 有限责任公司, 集团有限公司, 有限公司,
//! 集团, 公司, co., ltd., company limited, limited, inc., corporation, corp., llc, gmbh,
//! group. A branch (分公司) is a different account and is kept. So
//! 深圳市某某科技有限公司 = 深圳某某科技, ＡＢＣ科技有限公司 = abc科技, ACME Co., Ltd. = acme.

/// Full-width ASCII to half-width, the ideographic space to a space.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

pub fn exact_key(name: &str) -> String {
    let folded: String = name
        .chars()
        .map(fold_width)
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

const CHINESE_SUFFIXES: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "集团",
    "公司",
];
const LATIN_SUFFIXES: &[&str] = &[
    "companylimited",
    "corporation",
    "limited",
    "company",
    "group",
    "corp",
    "gmbh",
    "ltd",
    "inc",
    "llc",
    "co",
];

fn is_punctuation(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || "（）【】《》〈〉「」『』，。、；：！？·…—–“”‘’﹏～".contains(c)
}

pub fn fuzzy_key(name: &str) -> String {
    let mut key: String = exact_key(name)
        .chars()
        .filter(|c| !is_punctuation(*c))
        .collect();
    // A leading place name: drop its closing 省 / 市 (at most a province and a city).
    // A province name is at most 3 characters (黑龙江), a city after it at most 3 more.
    for (marker, window) in [('省', 4), ('市', 6)] {
        if let Some(index) = key
            .char_indices()
            .take(window)
            .find(|(_, c)| *c == marker)
            .map(|(i, _)| i)
            && index > 0
        {
            key.replace_range(index..index + marker.len_utf8(), "");
        }
    }
    loop {
        let before = key.len();
        if key.ends_with("分公司") {
            break;
        }
        for suffix in CHINESE_SUFFIXES.iter().chain(LATIN_SUFFIXES) {
            if key.len() > suffix.len() && key.ends_with(suffix) {
                key.truncate(key.len() - suffix.len());
                break;
            }
        }
        if key.len() == before {
            break;
        }
    }
    key
}

pub fn fuzzy_equal(a: &str, b: &str) -> bool {
    fuzzy_key(a) == fuzzy_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_matches_what_people_mean() {
        assert!(fuzzy_equal("深圳市某某科技有限公司", "深圳某某科技"));
        assert!(fuzzy_equal(
            "广东省深圳市某某科技有限公司",
            "广东深圳某某科技"
        ));
        assert!(fuzzy_equal("ＡＢＣ科技有限公司", "abc科技"));
        assert!(fuzzy_equal("ACME Co., Ltd.", "acme"));
        assert!(fuzzy_equal("Acme Inc.", "ACME"));
        assert!(fuzzy_equal("某某（深圳）股份有限公司", "某某深圳"));
        assert!(!fuzzy_equal("某某科技有限公司", "某某网络有限公司"));
        assert!(!fuzzy_equal(
            "深圳某某科技有限公司",
            "深圳某某科技有限公司分公司"
        ));
        assert!(
            !fuzzy_equal("市政工程公司", "政工程"),
            "a name starting with 市 is no place prefix"
        );
    }

    #[test]
    fn exact_folds_width_case_and_spacing_only() {
        assert_eq!(exact_key("ＡＢＣ\u{3000} Co"), exact_key("abc co"));
        assert_ne!(exact_key("ABC Co., Ltd."), exact_key("ABC"));
        assert_ne!(
            exact_key("深圳市某某科技有限公司"),
            exact_key("深圳某某科技")
        );
    }
}
