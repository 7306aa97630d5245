//! The README's table of APIs and versions must say exactly what `SUPPORTED_APIS` serves.

use fjord_broker::dispatch::SUPPORTED_APIS;

const START: &str = "<!-- apis:start -->";
const END: &str = "<!-- apis:end -->";

fn rendered() -> String {
    let mut apis: Vec<_> = SUPPORTED_APIS.iter().collect();
    apis.sort_by_key(|a| a.key as i16);
    let mut out = String::from("| API | key | versions |\n| --- | --- | --- |\n");
    for a in apis {
        out.push_str(&format!(
            "| {} | {} | {}-{} |\n",
            a.key.name(),
            a.key as i16,
            a.min,
            a.max
        ));
    }
    out
}

#[test]
fn readme_lists_exactly_the_served_apis() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md at the workspace root");
    let table = readme
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(table, _)| table.trim())
        .expect("README.md has the API table markers");
    let expected = rendered();
    assert_eq!(
        table,
        expected.trim(),
        "README.md's API table is stale; replace it with:\n{expected}"
    );
}
