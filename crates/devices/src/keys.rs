//! Normalised keys for serial and machine numbers: people type them with full-width
//! characters, spaces, dashes and either case.

/// Full-width ASCII folded, spaces and dashes dropped, upper-cased.
pub fn code_key(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_width_case_spaces_and_dashes() {
        assert_eq!(code_key(" sn-001 a "), "SN001A");
        assert_eq!(code_key("ＳＮ－００１Ａ"), "SN001A");
        assert_eq!(code_key("sn_001a"), code_key("SN 001 A"));
    }
}
