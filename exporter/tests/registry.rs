//! Lists outside the code that must name every collector, every anomaly rule or every fuzz target
//! are checked here against the registries and the fuzz project, so adding a collector or a rule
//! cannot leave them stale.
//! (The oracle test and the benchmark derive their collector lists from the registry themselves.)

use std::collections::BTreeSet;
use std::path::Path;

use sysmon_exporter::anomaly::rules::{all_specs, FAMILIES};
use sysmon_exporter::collector::REGISTRY;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first column of the Markdown table under `heading` (a line starting with it), as the
/// names in backquotes (a cell may list several: `` `a`, `b` ``).
fn table_names(markdown: &str, heading: &str) -> BTreeSet<String> {
    let start = markdown
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} heading"));
    markdown[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_start_matches('|').split('|').next())
        .flat_map(|cell| {
            cell.split(',')
                .filter_map(|name| {
                    name.trim()
                        .strip_prefix('`')?
                        .strip_suffix('`')
                        .map(str::to_string)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn readme_rule_table_lists_every_anomaly_rule() {
    let readme = read("../README.md");
    let listed = table_names(&readme, "### Anomalies");
    let registered: BTreeSet<String> = all_specs().map(|r| r.name.to_string()).collect();
    let missing: Vec<_> = registered.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&registered).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README's anomaly rule table: missing {missing:?}, not registered {unknown:?}"
    );
}

/// The shipped configuration file documents every rule: a `[rules.<name>]` section for each rule
/// with settings of its own, and the shared section of a family that decides itself names each of
/// its rules.
#[test]
fn shipped_config_documents_every_anomaly_rule() {
    let toml = read("sysmon.toml");
    for family in FAMILIES {
        if let Some(section) = family.section {
            assert!(
                toml.contains(&format!("\n[rules.{section}]\n")),
                "sysmon.toml has no [rules.{section}]"
            );
        }
        for rule in family.rules {
            if family.decides {
                assert!(
                    toml.contains(rule.name),
                    "sysmon.toml does not name {}",
                    rule.name
                );
            } else {
                assert!(
                    toml.contains(&format!("\n[rules.{}]\n", rule.name)),
                    "sysmon.toml has no [rules.{}]",
                    rule.name
                );
            }
        }
    }
}

/// `docs/api.md` lists the categories an event may have.
#[test]
fn api_doc_lists_every_anomaly_category() {
    let api = read("../docs/api.md");
    let row = api
        .lines()
        .find(|l| l.starts_with("| `category` | string |"))
        .expect("docs/api.md: no `category` row in the event table");
    let listed: BTreeSet<String> = row
        .trim_start_matches("| `category` | string |")
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let registered: BTreeSet<String> = all_specs().map(|r| r.category.to_string()).collect();
    assert_eq!(listed, registered, "docs/api.md's event categories");
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
