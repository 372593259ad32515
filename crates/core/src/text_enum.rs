//! One way to store enums: as TEXT, each variant under one fixed snake_case word.
//! `text_enum!` writes the enum with `ALL`, `as_str` (what is written), `parse` (what a
//! caller sent) and `from_stored` (what is read back: an unknown word is an internal
//! error naming the enum, never a silent default).

/// Declares an enum stored as TEXT:
///
/// ```
/// baoxiu_core::text_enum! {
///     /// What a job is doing.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum JobState {
///         Queued = "queued",
///         Dead = "dead",
///     }
/// }
/// assert_eq!(JobState::Dead.as_str(), "dead");
/// assert_eq!(JobState::parse("queued"), Some(JobState::Queued));
/// assert!(JobState::from_stored("gone").is_err());
/// assert_eq!(JobState::ALL.len(), 2);
/// ```
///
/// Serde derives, when wanted, go with the enum's attributes; `#[serde(rename_all =
/// "snake_case")]` spells the same words as long as the words are the variants in snake
/// case (a test of the enum's crate should pin it when it matters).
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The word stored (and sent) for this variant.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The variant a word names, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The variant read back from a TEXT column: an unknown word means the data
            /// or the code is wrong, an internal error.
            pub fn from_stored(text: &str) -> $crate::DomainResult<Self> {
                Self::parse(text).ok_or_else(|| {
                    $crate::DomainError::Internal(format!(
                        concat!("stored ", stringify!($name), " {:?} is not known"),
                        text
                    ))
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    text_enum! {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Colour {
            /// Documented variants keep their docs.
            DarkRed = "dark_red",
            Blue = "blue",
        }
    }

    #[test]
    fn words_round_trip_and_match_serde() {
        for colour in Colour::ALL {
            assert_eq!(Colour::parse(colour.as_str()), Some(colour));
            assert_eq!(Colour::from_stored(colour.as_str()).ok(), Some(colour));
            assert_eq!(
                serde_json::to_value(colour).ok(),
                Some(serde_json::Value::String(colour.to_string()))
            );
        }
        assert_eq!(Colour::parse("Blue"), None);
        let error = Colour::from_stored("green").err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("internal error: stored Colour \"green\" is not known")
        );
    }
}
