//! Query syntax errors say where the problem is, as a user reading the message would need.

#[test]
fn syntax_errors_name_the_position() {
    let cases =
        [("sum(rate(x[1m])", "at 1:4:"), ("up{job=\"a\"", "at 1:3:"), ("rate(http_requests_total[5q])", "at 1:26:")];
    for (query, position) in cases {
        let error = vigil_promql::parse(query).expect_err(query).to_string();
        assert!(error.contains(position), "{query:?}: {error}");
    }
}
