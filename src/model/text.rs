//! The master-file syntax of RFC 1035 5.1, shared by the zone file importer and the
//! record API's presentation parser: entries (one record or directive, possibly over
//! several lines in parentheses), tokens (quoted or not, escapes kept as written), and
//! the decoding of character strings and TTLs.
//!
//! Our own tokenizer rather than hickory-proto's: that one reads `\;` in an unquoted
//! token as the start of a comment (the rest of the record vanished without an error)
//! and decodes `\DDD` in quoted strings wrongly, and a zone file import must never lose
//! or change a record silently.

use std::fmt;

/// One token as written: escapes are kept (`\.` in a name is not a label separator,
/// `\"` in a string is not its end); quotes are removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub quoted: bool,
    /// The line it starts on (1-based).
    pub line: usize,
}

/// One record or directive: its tokens, the line it starts on, and whether that line
/// starts with blank space (the owner is then the previous record's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub blank_owner: bool,
    pub tokens: Vec<Token>,
}

/// A syntax error with the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Length of the UTF-8 character whose first byte is `b`.
fn char_len(b: u8) -> usize {
    match b {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// Splits `text` into entries: comments (`;` to the end of the line, outside quotes and
/// not escaped) dropped, parentheses joining lines, blank and comment-only lines skipped.
pub fn entries(text: &str) -> Result<Vec<Entry>, TextError> {
    let b = text.as_bytes();
    let err = |line: usize, reason: &str| TextError { line, reason: reason.to_string() };
    let mut out = Vec::new();
    let mut cur = Entry { line: 1, blank_owner: false, tokens: Vec::new() };
    let mut line = 1;
    let mut depth = 0usize;
    let mut paren_line = 0;
    let mut at_line_start = true;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if at_line_start && depth == 0 {
            cur.line = line;
            cur.blank_owner = c == b' ' || c == b'\t';
            at_line_start = false;
        }
        match c {
            b'\n' => {
                line += 1;
                i += 1;
                if depth == 0 {
                    if !cur.tokens.is_empty() {
                        out.push(std::mem::replace(&mut cur, Entry { line, blank_owner: false, tokens: Vec::new() }));
                    }
                    at_line_start = true;
                }
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b';' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.checked_sub(1).ok_or_else(|| err(line, "')' without '('"))?;
                i += 1;
            }
            b'"' => {
                let start_line = line;
                i += 1;
                let start = i;
                loop {
                    match b.get(i) {
                        None => return Err(err(start_line, "quoted string without its closing '\"'")),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            let n = b.get(i + 1).copied().ok_or_else(|| err(line, "escape at the end of the file"))?;
                            if n == b'\n' {
                                return Err(err(start_line, "a line break inside a quoted string"));
                            }
                            i += 1 + char_len(n);
                        }
                        Some(b'\n') => return Err(err(start_line, "quoted string without its closing '\"'")),
                        Some(_) => i += 1,
                    }
                }
                let token = text.get(start..i).ok_or_else(|| err(line, "invalid UTF-8 after an escape"))?;
                cur.tokens.push(Token { text: token.to_string(), quoted: true, line: start_line });
                i += 1;
            }
            _ => {
                let start = i;
                while i < b.len() {
                    match b[i] {
                        b'\\' => {
                            let n = b.get(i + 1).copied().ok_or_else(|| err(line, "escape at the end of the file"))?;
                            if n == b'\n' {
                                return Err(err(line, "an escaped line break is not allowed"));
                            }
                            i = (i + 1 + char_len(n)).min(b.len());
                        }
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' => break,
                        _ => i += 1,
                    }
                }
                let token = text.get(start..i).ok_or_else(|| err(line, "invalid UTF-8 after an escape"))?;
                cur.tokens.push(Token { text: token.to_string(), quoted: false, line });
            }
        }
    }
    if depth > 0 {
        return Err(err(paren_line, "'(' without ')'"));
    }
    if !cur.tokens.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// The octets of a character string (RFC 1035 5.1): `\X` is X, `\DDD` the octet DDD.
pub fn octets(text: &str) -> Result<Vec<u8>, String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1..i + 4) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                let v = (d[0] - b'0') as u32 * 100 + (d[1] - b'0') as u32 * 10 + (d[2] - b'0') as u32;
                out.push(
                    u8::try_from(v)
                        .map_err(|_| format!("\\{} is not an octet (at most \\255)", &text[i + 1..i + 4]))?,
                );
                i += 4;
            }
            _ => match b.get(i + 1) {
                Some(d) if d.is_ascii_digit() => return Err("\\D must be followed by three digits (\\DDD)".into()),
                Some(_) => {
                    // An escaped character, possibly a multi-byte one: its bytes as they are.
                    let n = char_len(b[i + 1]);
                    out.extend_from_slice(b.get(i + 1..i + 1 + n).ok_or("truncated character")?);
                    i += 1 + n;
                }
                None => return Err("'\\' at the end of a string".into()),
            },
        }
    }
    Ok(out)
}

/// A TTL: seconds, or BIND's units (`1w2d3h4m5s`, any case).
pub fn ttl(text: &str) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|c| c.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in text.bytes() {
        match c {
            b'0'..=b'9' => num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add((c - b'0') as u64)?),
            _ => {
                let unit = match c.to_ascii_lowercase() {
                    b'w' => 604_800,
                    b'd' => 86_400,
                    b'h' => 3_600,
                    b'm' => 60,
                    b's' => 1,
                    _ => return None,
                };
                total = total.checked_add(num.take()?.checked_mul(unit)?)?;
            }
        }
    }
    total = total.checked_add(num.unwrap_or(0))?;
    u32::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(e: &Entry) -> Vec<&str> {
        e.tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn escaped_semicolons_and_quotes_stay_in_their_token() {
        let e = entries("semi\\;colon TXT \"x\" ; a comment\nquote\\\"d A 192.0.2.1\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(texts(&e[0]), vec!["semi\\;colon", "TXT", "x"]);
        assert!(e[0].tokens[2].quoted);
        assert_eq!(texts(&e[1]), vec!["quote\\\"d", "A", "192.0.2.1"]);
        assert_eq!(e[1].line, 2);
    }

    #[test]
    fn parentheses_join_lines_and_blank_owners_are_seen() {
        let e = entries("@ SOA ns ( 1 ; serial\n 2 3\n 4 5 )\n\n  ; only a comment\n\tA 192.0.2.1\n").unwrap();
        assert_eq!(texts(&e[0]), vec!["@", "SOA", "ns", "1", "2", "3", "4", "5"]);
        assert_eq!((e[1].line, e[1].blank_owner), (6, true));
        assert_eq!(entries("a ( b\n").unwrap_err().line, 1);
        assert_eq!(entries("a b )\n").unwrap_err().line, 1);
        assert_eq!(entries("a \"b\n").unwrap_err().line, 1);
    }

    #[test]
    fn strings_decode_escapes_as_octets() {
        assert_eq!(octets("a\\065\\\"\\\\\\200").unwrap(), b"aA\"\\\xc8");
        assert!(octets("\\256").is_err());
        assert!(octets("\\12").is_err());
    }

    #[test]
    fn ttls_take_units() {
        assert_eq!(ttl("300"), Some(300));
        assert_eq!(ttl("1h30m"), Some(5400));
        assert_eq!(ttl("1W"), Some(604_800));
        assert_eq!(ttl("A"), None);
        assert_eq!(ttl("IN"), None);
        assert_eq!(ttl("99999999999"), None);
    }
}
