//! Every ```toml block of docs/policies.md is a complete policy file that passes `policy check`
//! (here: `muster_policy::parse`, which the check commands call).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[test]
fn every_example_in_the_policy_guide_is_a_valid_policy() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/policies.md");
    let doc = std::fs::read_to_string(path).expect("docs/policies.md");
    let mut examples = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in doc.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```toml") => current = Some((n + 1, String::new())),
            (Some(_), "```") => examples.push(current.take().unwrap()),
            (Some((_, text)), l) => {
                text.push_str(l);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```toml block");
    assert!(examples.len() >= 8, "found only {} examples", examples.len());
    for (line, text) in &examples {
        if let Err(e) = muster_policy::parse(text) {
            panic!("docs/policies.md example at line {line} is refused:\n{:#?}", e.diagnostics);
        }
    }
}
