//! Texts that come from outside (a plugin's messages, errors) cut to a size
//! the host is willing to keep, log, or put in a header.

/// `text` cut to at most `max` bytes at a character boundary, ending in
/// "... (N more bytes cut)", its excess memory given back. Shorter texts
/// come back as they are.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let total = text.len();
    // Room for the note; a `max` below that just keeps the note's share.
    let mut end = max.saturating_sub(40);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("... ({} more bytes cut)", total - end));
    text.shrink_to_fit();
    text
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_at_a_character_boundary_and_says_so() {
        assert_eq!(cut("short".into(), 100), "short");
        let long = "é".repeat(30 << 20);
        let c = cut(long, 2048);
        assert!(c.len() <= 2048, "{}", c.len());
        assert!(c.ends_with("more bytes cut)"), "{}", &c[c.len() - 40..]);
        assert!(c.capacity() <= 2048, "the rest is freed");
    }
}
