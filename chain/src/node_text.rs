//! Text a node wrote (refusal messages, status words, error strings, event names from its
//! metadata), made safe to print: a hostile node must not be able to move the cursor, set
//! the terminal's title, erase lines or print a fake `registered` line through regpow.

/// The most characters of one piece of node text that regpow prints: enough for any real
/// pool message, short enough that a node cannot flood the terminal or a log.
pub const MAX_CHARS: usize = 300;

/// `text` with every control character (C0, DEL, C1: escape sequences start with ESC or
/// CSI) and every bidirectional override written out as a visible `\u{…}` escape, newlines
/// included (node text is always one line), cut to [`MAX_CHARS`] characters with `…`.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CHARS + 8));
    for (count, c) in text.chars().enumerate() {
        if count == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Unicode's bidirectional formatting characters, which reorder what follows them on a
/// terminal (the "Trojan Source" characters).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_line_breaks_are_written_out() {
        let hostile = "Invalid\x1b]0;pwned\x07\r\n\x1b[2Kregistered: uid 0\u{9b}31m";
        let shown = printable(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert_eq!(
            shown,
            "Invalid\\u{1b}]0;pwned\\u{7}\\u{d}\\u{a}\\u{1b}[2Kregistered: uid 0\\u{9b}31m"
        );
        assert_eq!(printable("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
    }

    #[test]
    fn ordinary_text_is_kept_and_long_text_is_cut() {
        let normal = "Invalid Transaction: Custom error: 255 (ünïcode kept)";
        assert_eq!(printable(normal), normal);
        let long = "x".repeat(10_000);
        let shown = printable(&long);
        assert_eq!(shown.chars().count(), MAX_CHARS + 1);
        assert!(shown.ends_with('…'));
    }
}
