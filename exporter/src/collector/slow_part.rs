//! A part of an every-sample collector's output that no anomaly rule reads and that changes
//! slowly (a disk's udev description, CPU throttle counts): read at most once per slow interval,
//! or at once when its key (the set of devices it describes) changes, and copied from the cache in
//! between. The collector's counters the rules need are still read every sample.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::CollectError;
use crate::metrics::MetricSet;

pub struct SlowPart<K> {
    every: Duration,
    cache: Mutex<Option<Cached<K>>>,
}

struct Cached<K> {
    at: Instant,
    key: K,
    set: MetricSet,
    error: Option<String>,
}

impl<K: PartialEq> SlowPart<K> {
    /// Refreshed every `every` (the sampler's slow interval; zero refreshes every time).
    pub fn new(every: Duration) -> SlowPart<K> {
        SlowPart {
            every,
            cache: Mutex::new(None),
        }
    }

    /// Adds the part to `out`: read with `read` when the cache is older than the interval or was
    /// made for another `key`, else copied from the cache. A read's error is reported again with
    /// every copy, so the collector stays failed until a read succeeds.
    pub fn add(
        &self,
        key: K,
        out: &mut MetricSet,
        read: impl FnOnce(&mut MetricSet) -> Result<(), CollectError>,
    ) -> Result<(), CollectError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = cache
            .as_ref()
            .is_some_and(|c| c.key == key && c.at.elapsed() < self.every);
        if !fresh {
            let mut set = MetricSet::new();
            let error = read(&mut set).err().map(|e| e.to_string());
            *cache = Some(Cached {
                at: Instant::now(),
                key,
                set,
                error,
            });
        }
        let cached = cache.as_ref().expect("filled above");
        for fam in &cached.set.families {
            out.family(&fam.name, &fam.help, fam.kind)
                .samples
                .extend(fam.samples.iter().cloned());
        }
        match &cached.error {
            None => Ok(()),
            Some(e) => Err(CollectError::Other(e.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn reads_once_per_interval_or_when_the_key_changes() {
        let part = SlowPart::new(Duration::from_secs(3600));
        let reads = Cell::new(0);
        let read = |out: &mut MetricSet| {
            reads.set(reads.get() + 1);
            out.gauge("x", "X.").sample(&[], reads.get() as f64);
            Ok(())
        };
        for _ in 0..3 {
            let mut out = MetricSet::new();
            part.add(1, &mut out, read).unwrap();
            assert_eq!(out.get("x").unwrap().samples[0].value, 1.0);
        }
        let mut out = MetricSet::new();
        part.add(2, &mut out, read).unwrap();
        assert_eq!(out.get("x").unwrap().samples[0].value, 2.0);
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn errors_are_repeated_until_a_read_succeeds() {
        let part = SlowPart::new(Duration::ZERO);
        let failing = |out: &mut MetricSet| {
            out.gauge("partial", "P.").sample(&[], 1.0);
            Err(CollectError::Other("broken".into()))
        };
        let mut out = MetricSet::new();
        assert!(part.add((), &mut out, failing).is_err());
        assert!(out.get("partial").is_some(), "what was read is kept");
        let mut out = MetricSet::new();
        assert!(part.add((), &mut out, |_| Ok(())).is_ok());
    }
}
