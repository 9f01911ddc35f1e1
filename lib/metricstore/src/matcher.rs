//! Label matchers (`=`, `!=`, `=~`, `!~`), with Prometheus's semantics: a missing label
//! matches as the empty string, and regular expressions are anchored at both ends.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Result<Matcher, regex::Error> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(Regex::new(&format!("^(?s:{value})$"))?),
            _ => None,
        };
        Ok(Matcher { name: name.into(), op, value, regex })
    }

    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher { name: name.into(), op: MatchOp::Equal, value: value.into(), regex: None }
    }

    /// Whether a label value (empty when the series lacks the label) passes.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// True when series without the label pass too (so the index cannot narrow by it).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_follow_prometheus() {
        let re = Matcher::new("job", MatchOp::Regex, "node|api").unwrap();
        assert!(re.matches("node") && re.matches("api") && !re.matches("nodes") && !re.matches(""));
        let not_re = Matcher::new("job", MatchOp::NotRegex, "no.*").unwrap();
        assert!(not_re.matches("api") && !not_re.matches("node") && not_re.matches_empty());
        assert!(Matcher::new("job", MatchOp::NotEqual, "x").unwrap().matches_empty());
        assert!(!Matcher::equal("job", "x").matches_empty());
        assert!(Matcher::new("job", MatchOp::Regex, "(").is_err());
    }
}
