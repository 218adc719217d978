//! A textfile collector's `*.prom` file: the text-format parser and what the collector makes of the
//! file. Whatever it accepts must encode into text that parses again to the same families.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::textfile::{families_of_file, parse};
use sysmon_exporter::metrics::{encode, Format};

fuzz_target!(|data: &[u8]| {
    let _ = parse::parse(data, 10_000);
    if let Ok(families) = families_of_file(data) {
        let mut text = String::new();
        encode(&families, Format::Text, &mut text);
        let again = parse::parse(text.as_bytes(), 1_000_000)
            .unwrap_or_else(|e| panic!("own output does not parse: {e}\n{text}"));
        let with_samples = families.iter().filter(|f| !f.samples.is_empty()).count();
        assert_eq!(again.len(), with_samples, "{text}");
        let mut om = String::new();
        encode(&families, Format::OpenMetrics, &mut om);
    }
});
