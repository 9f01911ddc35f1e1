//! Where a syntax error is. The parser's messages say what is wrong but not where; this finds
//! the place from the message and the text: an unmatched bracket, the quoted fragment, or the
//! end of the input, as `line:column` (1-based, as Prometheus prints them).

/// The position the error points at, when it can be told.
pub fn locate(query: &str, message: &str) -> Option<(usize, usize)> {
    let offset =
        unmatched_bracket(query).or_else(|| message.contains("end of input").then_some(query.len())).or_else(|| {
            let fragment = message.rsplit(": ").next()?.trim();
            (!fragment.is_empty() && fragment != message.trim()).then(|| query.find(fragment)).flatten()
        })?;
    Some(line_column(query, offset))
}

/// The first closing bracket without an opener, or the last opener never closed (strings
/// and comments skipped).
fn unmatched_bracket(query: &str) -> Option<usize> {
    let mut open: Vec<(char, usize)> = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                // Skip the string, honouring backslash escapes (not in backquoted strings).
                while let Some((_, inner)) = chars.next() {
                    if inner == '\\' && c != '`' {
                        chars.next();
                    } else if inner == c {
                        break;
                    }
                }
            }
            '#' => {
                while chars.peek().is_some_and(|(_, c)| *c != '\n') {
                    chars.next();
                }
            }
            '(' | '[' | '{' => open.push((c, at)),
            ')' | ']' | '}' => {
                let expected = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match open.pop() {
                    Some((opener, _)) if opener == expected => {}
                    _ => return Some(at),
                }
            }
            _ => {}
        }
    }
    open.last().map(|(_, at)| *at)
}

fn line_column(query: &str, offset: usize) -> (usize, usize) {
    let before = &query[..offset.min(query.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_common_mistakes() {
        assert_eq!(locate("sum(rate(x[1m])", "unclosed left parenthesis"), Some((1, 4)));
        assert_eq!(locate("up{job=\"a(\"", "unexpected end of input inside braces"), Some((1, 3)));
        assert_eq!(locate("rate(x[5q])", "bad number or duration syntax: 5q"), Some((1, 8)));
        assert_eq!(locate("sum(x))", "unexpected right parenthesis ')'"), Some((1, 7)));
        assert_eq!(locate("sum(\n  x[5q])", "bad number or duration syntax: 5q"), Some((2, 5)));
        assert_eq!(locate("1 +* 2", "invalid promql query"), None);
    }
}
