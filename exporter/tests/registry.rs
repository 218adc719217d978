//! Lists outside the code that must name every collector or every fuzz target are checked here
//! against the registry and the fuzz project, so adding a collector cannot leave them stale.
//! (The oracle test and the benchmark derive their collector lists from the registry themselves.)

use std::collections::BTreeSet;
use std::path::Path;

use sysmon_exporter::collector::REGISTRY;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first column of the Markdown table under `heading` (a line starting with it), as the
/// names in backquotes.
fn table_names(markdown: &str, heading: &str) -> BTreeSet<String> {
    let start = markdown
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} heading"));
    markdown[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cell = l.trim_start_matches('|').split('|').next()?.trim();
            cell.strip_prefix('`')?
                .strip_suffix('`')
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn readme_collector_table_lists_every_collector() {
    let readme = read("../README.md");
    let listed = table_names(&readme, "### Collectors");
    let registered: BTreeSet<String> = REGISTRY.iter().map(|r| r.name.to_string()).collect();
    let missing: Vec<_> = registered.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&registered).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README's collector table: missing {missing:?}, not registered {unknown:?}"
    );
}

#[test]
fn every_collector_has_a_unique_name_and_help() {
    let mut seen = BTreeSet::new();
    for reg in REGISTRY {
        assert!(seen.insert(reg.name), "{} registered twice", reg.name);
        assert!(
            reg.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{}: collector names are lower-case identifiers",
            reg.name
        );
        assert!(!reg.help.is_empty(), "{} has no help", reg.name);
    }
}

#[test]
fn every_fuzz_target_is_declared_documented_and_seeded() {
    let cargo = read("fuzz/Cargo.toml");
    let readme = read("fuzz/README.md");
    let run = read("fuzz/run.sh");
    let documented = table_names(&readme, "| target |");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut targets: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    targets.sort();
    assert!(targets.len() >= 18, "fuzz targets: {targets:?}");
    for t in &targets {
        assert!(
            cargo.contains(&format!("path = \"fuzz_targets/{t}.rs\"")),
            "fuzz target {t} has no [[bin]] in exporter/fuzz/Cargo.toml"
        );
        assert!(
            documented.contains(t),
            "fuzz target {t} has no row in exporter/fuzz/README.md"
        );
        let seeded = run.lines().any(|l| {
            let l = l.trim_start();
            l.split(')').next().is_some_and(|pattern| {
                !l.starts_with('#') && pattern.split('|').any(|p| p.trim() == t)
            })
        });
        let hand_seeds = dir.join("../seeds").join(t).is_dir();
        assert!(
            seeded || hand_seeds,
            "fuzz target {t} has no seed case in exporter/fuzz/run.sh and no exporter/fuzz/seeds/{t}/"
        );
    }
}
