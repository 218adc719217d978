use super::*;
use crate::metrics::{encode, Format};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn collector(dirs: &[&Path]) -> TextfileCollector {
    TextfileCollector::new(
        dirs.iter()
            .map(|d| d.to_str().unwrap().to_string())
            .collect(),
        false,
    )
}

fn run(c: &TextfileCollector) -> MetricSet {
    let mut out = MetricSet::new();
    c.collect(&mut out)
        .expect("the textfile collector never fails");
    out
}

fn text(set: &MetricSet) -> String {
    let mut s = String::new();
    encode(&set.families, Format::Text, &mut s);
    s
}

fn scrape_error(set: &MetricSet) -> f64 {
    set.get(ERROR_METRIC).unwrap().samples[0].value
}

fn mtime_files(set: &MetricSet) -> Vec<String> {
    set.get(MTIME_METRIC)
        .map(|f| f.samples.iter().map(|s| s.labels[0].1.clone()).collect())
        .unwrap_or_default()
}

/// (labels as k=v, value) of a family.
fn series(set: &MetricSet, name: &str) -> Vec<(String, f64)> {
    set.get(name)
        .unwrap_or_else(|| panic!("no {name} in {}", text(set)))
        .samples
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (labels.join(","), s.value)
        })
        .collect()
}

#[test]
fn files_are_merged_padded_and_timed() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "apt.prom",
        "# HELP apt_upgrades_pending Apt packages pending updates by origin.\n\
         # TYPE apt_upgrades_pending gauge\n\
         apt_upgrades_pending{origin=\"Debian:bookworm/stable\",arch=\"amd64\"} 41\n\
         apt_upgrades_pending{arch=\"all\"} 6\n\
         backup_ok 1\n",
    );
    write(
        tmp.path(),
        "backup.prom",
        "backup_ok{job=\"home\"} 0\n# a comment\n",
    );
    write(tmp.path(), "ignored.txt", "not_read 1\n");
    write(tmp.path(), "empty.prom", "");
    let set = run(&collector(&[tmp.path()]));
    assert_eq!(scrape_error(&set), 0.0, "{}", text(&set));
    let dir = tmp.path().to_str().unwrap();
    assert_eq!(
        mtime_files(&set),
        [
            format!("{dir}/apt.prom"),
            format!("{dir}/backup.prom"),
            format!("{dir}/empty.prom")
        ]
    );
    assert_eq!(
        series(&set, "apt_upgrades_pending"),
        [
            ("arch=all,origin=".to_string(), 6.0),
            ("arch=amd64,origin=Debian:bookworm/stable".to_string(), 41.0)
        ]
    );
    let backup = set.get("backup_ok").unwrap();
    assert_eq!(backup.kind, MetricType::Untyped);
    assert_eq!(
        backup.help,
        format!("Metric read from {dir}/apt.prom, {dir}/backup.prom")
    );
    assert_eq!(
        series(&set, "backup_ok"),
        [("".to_string(), 1.0), ("job=home".to_string(), 0.0)]
    );
    assert!(set.get("not_read").is_none());
    let mtime = set.get(MTIME_METRIC).unwrap().samples[0].value;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - mtime).abs() < 600.0 && mtime == mtime.trunc(),
        "{mtime}"
    );
    let names: Vec<&str> = set.families.iter().map(|f| f.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "families are sorted by name");
}

#[test]
fn one_bad_file_does_not_hide_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "a_good.prom", "# TYPE good gauge\ngood 1\n");
    write(d, "b_timestamp.prom", "ts_metric 1 1700000000000\nalso 2\n");
    write(d, "c_malformed.prom", "bad{ 1\n");
    write(d, "d_nonl.prom", "nonl 1");
    std::os::unix::fs::symlink(d.join("nowhere"), d.join("e_dangling.prom")).unwrap();
    std::fs::create_dir(d.join("f_dir.prom")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.join("g_fifo.prom"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    write(d, "h_good.prom", "# TYPE good gauge\ngood{x=\"2\"} 2\n");
    let set = run(&collector(&[d]));
    assert_eq!(scrape_error(&set), 1.0);
    assert_eq!(
        series(&set, "good"),
        [("".to_string(), 1.0), ("x=2".to_string(), 2.0)]
    );
    for absent in ["ts_metric", "also", "bad", "nonl"] {
        assert!(set.get(absent).is_none(), "{absent}");
    }
    let files = mtime_files(&set);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("/a_good.prom") && files[1].ends_with("/h_good.prom"));
}

#[test]
fn conflicting_families_keep_the_first_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "1.prom",
        "# HELP m Help A.\n# TYPE m gauge\nm{f=\"1\"} 1\nt 1\n",
    );
    // Same name, other HELP: dropped from this file (node_exporter 1.12 does the same).
    write(
        d,
        "2.prom",
        "# HELP m Help B.\n# TYPE m gauge\nm{f=\"2\"} 2\nother 5\n",
    );
    // Same name, no HELP (node_exporter's registry drops it: the generated HELP differs).
    write(d, "3.prom", "# TYPE m gauge\nm{f=\"3\"} 3\n");
    // Same name, other type.
    write(d, "4.prom", "# TYPE t counter\nt{f=\"4\"} 4\n");
    // Same HELP and type: merged.
    write(
        d,
        "5.prom",
        "# HELP m Help A.\n# TYPE m gauge\nm{f=\"5\"} 5\n",
    );
    // A series exported twice: the first value stays.
    write(
        d,
        "6.prom",
        "# HELP m Help A.\n# TYPE m gauge\nm{f=\"1\"} 6\n",
    );
    let set = run(&collector(&[d]));
    assert_eq!(scrape_error(&set), 1.0);
    assert_eq!(
        series(&set, "m"),
        [("f=1".to_string(), 1.0), ("f=5".to_string(), 5.0)]
    );
    assert_eq!(set.get("m").unwrap().help, "Help A.");
    assert_eq!(series(&set, "t"), [("".to_string(), 1.0)]);
    let dir = d.to_str().unwrap();
    assert_eq!(
        set.get("t").unwrap().help,
        format!("Metric read from {dir}/1.prom, {dir}/4.prom")
    );
    assert_eq!(series(&set, "other"), [("".to_string(), 5.0)]);
    // Every file parsed, so every file has its mtime.
    assert_eq!(mtime_files(&set).len(), 6);
}

#[test]
fn names_that_clash_in_the_exposition_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "a.prom",
        "# TYPE x gauge\nx 1\n# TYPE x_total counter\nx_total 2\n\
         # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
    );
    write(
        d,
        "b.prom",
        "h_count 7\nnode_textfile_scrape_error 0\nnode_textfile_mtime_seconds{file=\"x\"} 1\n",
    );
    let set = run(&collector(&[d]));
    assert_eq!(scrape_error(&set), 1.0);
    let names: Vec<&str> = set.families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "h",
            "node_textfile_mtime_seconds",
            "node_textfile_scrape_error",
            "x"
        ]
    );
    assert_eq!(set.get(ERROR_METRIC).unwrap().samples.len(), 1);
    assert_eq!(mtime_files(&set).len(), 2);
}

#[test]
fn histograms_and_summaries_as_node_exporter_serves_them() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "h.prom",
        "# HELP backup_duration_seconds How long backups took.\n\
         # TYPE backup_duration_seconds histogram\n\
         backup_duration_seconds_bucket{job=\"home\",le=\"1e6\"} 3\n\
         backup_duration_seconds_bucket{job=\"home\",le=\"60\"} 1.7\n\
         backup_duration_seconds_bucket{job=\"home\",le=\"0.5\"} 0\n\
         backup_duration_seconds_sum{job=\"home\"} 1234.5\n\
         backup_duration_seconds_count{job=\"home\"} 4\n\
         # TYPE rpc summary\n\
         rpc{quantile=\"0.99\"} 0.9\n\
         rpc{quantile=\"0.5\"} NaN\n\
         rpc_count 10\n",
    );
    let set = run(&collector(&[tmp.path()]));
    assert_eq!(scrape_error(&set), 0.0);
    let out = text(&set);
    assert!(
        out.contains(
            "# HELP backup_duration_seconds How long backups took.\n\
             # TYPE backup_duration_seconds histogram\n\
             backup_duration_seconds_bucket{job=\"home\",le=\"0.5\"} 0\n\
             backup_duration_seconds_bucket{job=\"home\",le=\"60\"} 1\n\
             backup_duration_seconds_bucket{job=\"home\",le=\"1e+06\"} 3\n\
             backup_duration_seconds_bucket{job=\"home\",le=\"+Inf\"} 4\n\
             backup_duration_seconds_sum{job=\"home\"} 1234.5\n\
             backup_duration_seconds_count{job=\"home\"} 4\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "# TYPE rpc summary\n\
             rpc{quantile=\"0.5\"} NaN\n\
             rpc{quantile=\"0.99\"} 0.9\n\
             rpc_sum 0\n\
             rpc_count 10\n"
        ),
        "{out}"
    );
    let mut om = String::new();
    encode(&set.families, Format::OpenMetrics, &mut om);
    assert!(
        om.contains("backup_duration_seconds_bucket{job=\"home\",le=\"60.0\"} 1\n"),
        "{om}"
    );
    assert!(
        om.contains("backup_duration_seconds_bucket{job=\"home\",le=\"1e+06\"} 3\n"),
        "{om}"
    );
    assert!(om.contains("rpc{quantile=\"0.5\"} NaN\n"), "{om}");
}

#[test]
fn directories_default_missing_empty_and_globbed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for sub in ["job-a", "job-b", "other"] {
        std::fs::create_dir(d.join(sub)).unwrap();
        write(
            &d.join(sub),
            "m.prom",
            &format!("# TYPE m gauge\nm{{dir=\"{sub}\"}} 1\n"),
        );
    }
    // A glob and a repeated flag.
    let set = run(&TextfileCollector::new(
        vec![
            format!("{}/job-*", d.display()),
            format!("{}/other/", d.display()),
        ],
        false,
    ));
    assert_eq!(scrape_error(&set), 0.0);
    assert_eq!(set.get("m").unwrap().samples.len(), 3);
    assert_eq!(
        mtime_files(&set),
        ["job-a", "job-b", "other"].map(|s| format!("{}/{s}/m.prom", d.display()))
    );
    // A pattern matching nothing is read as a directory name: missing, so an error...
    let missing = format!("{}/nothing-*", d.display());
    assert_eq!(
        scrape_error(&run(&TextfileCollector::new(vec![missing.clone()], false))),
        1.0
    );
    // ...unless it is the default directory, not named on the command line.
    let set = run(&TextfileCollector::new(vec![missing], true));
    assert_eq!(scrape_error(&set), 0.0);
    assert!(set.get(MTIME_METRIC).is_none());
    // An empty value reads nothing and is no error (node_exporter's upstream default).
    let set = run(&TextfileCollector::new(vec![String::new()], false));
    assert_eq!(scrape_error(&set), 0.0);
    assert_eq!(set.families.len(), 1);
}

#[test]
fn unchanged_files_are_not_parsed_again() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "a.prom", "a 1\n");
    write(d, "bad.prom", "bad{\n");
    let c = collector(&[d]);
    let first = run(&c);
    let parsed = |c: &TextfileCollector, name: &str| {
        Arc::clone(&c.state.lock().unwrap().files[&d.join(name)].data)
    };
    let (a1, bad1) = (parsed(&c, "a.prom"), parsed(&c, "bad.prom"));
    let second = run(&c);
    assert!(
        Arc::ptr_eq(&a1, &parsed(&c, "a.prom")),
        "a.prom was parsed again"
    );
    assert!(Arc::ptr_eq(&bad1, &parsed(&c, "bad.prom")));
    assert_eq!(
        text(&first),
        text(&second),
        "an unchanged file yields its series every sample"
    );
    assert_eq!(
        scrape_error(&second),
        1.0,
        "an unchanged bad file is still an error"
    );
    // A rewrite (a new inode by rename, as the collector scripts do) is read again.
    write(d, "a.tmp", "a 2\n");
    std::fs::rename(d.join("a.tmp"), d.join("a.prom")).unwrap();
    std::fs::remove_file(d.join("bad.prom")).unwrap();
    let third = run(&c);
    assert_eq!(series(&third, "a"), [("".to_string(), 2.0)]);
    assert_eq!(scrape_error(&third), 0.0);
    assert_eq!(
        c.state.lock().unwrap().files.len(),
        1,
        "vanished files are forgotten"
    );
}

#[test]
fn bounds_on_size_and_series() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let big = std::fs::File::create(d.join("big.prom")).unwrap();
    big.set_len(MAX_FILE_BYTES + 1).unwrap();
    let many: String = (0..60_000).map(|i| format!("s{{i=\"{i}\"}} 1\n")).collect();
    write(d, "many1.prom", &many);
    write(d, "many2.prom", &many.replace('s', "t"));
    let set = run(&collector(&[d]));
    assert_eq!(scrape_error(&set), 1.0);
    assert_eq!(set.get("s").unwrap().samples.len(), 60_000);
    assert!(
        set.get("t").is_none(),
        "the second file would pass {MAX_SERIES} series"
    );
    assert_eq!(mtime_files(&set).len(), 1);
}

#[test]
fn collector_is_registered_on_by_default_with_debians_directory() {
    let reg = crate::collector::registration("textfile").unwrap();
    assert!(reg.default_enabled);
    let cli = crate::cli::try_parse(&["sysmon-exporter"]).unwrap();
    let args: Args = clap::FromArgMatches::from_arg_matches(&cli.matches).unwrap();
    assert_eq!(args.directory, [DEFAULT_DIRECTORY]);
    assert_eq!(
        cli.matches.value_source("textfile_directory"),
        Some(clap::parser::ValueSource::DefaultValue)
    );
    let cli = crate::cli::try_parse(&[
        "sysmon-exporter",
        "--collector.textfile.directory=/a",
        "--collector.textfile.directory",
        "/b/*",
    ])
    .unwrap();
    let args: Args = clap::FromArgMatches::from_arg_matches(&cli.matches).unwrap();
    assert_eq!(args.directory, ["/a", "/b/*"]);
}

/// The fuzz target's invariant on the fixture machines' files: what the collector serves for a
/// file encodes into text that parses again to as many families.
#[test]
fn own_output_of_fixture_files_parses_again() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for machine in ["laptop", "server", "broken"] {
        for entry in std::fs::read_dir(fixtures.join(machine).join("textfile")).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(families) = families_of_file(&data) {
                for format in [Format::Text, Format::OpenMetrics] {
                    let mut out = String::new();
                    encode(&families, format, &mut out);
                    if format == Format::Text {
                        let again = parse::parse(out.as_bytes(), 1_000_000).unwrap();
                        assert_eq!(again.len(), families.len(), "{out}");
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "{checked}");
}
