//! `timex`: the kernel's clock discipline state from adjtimex(2): offset from the reference clock,
//! frequency adjustment, error estimates, status bits, PPS statistics, the TAI offset and whether
//! the clock is synchronised.
//!
//! The values come from a system call on the live kernel (called read-only, `modes = 0`, which
//! needs no privilege), so this collector cannot honour `--path.procfs`/`--path.sysfs`: with a
//! fixture tree or a host's /proc mounted elsewhere it still reports the kernel the exporter runs
//! on, exactly as node_exporter's timex collector does. Where the call is refused (EPERM, e.g. a
//! seccomp profile that forbids it) there is no data and no error, as in node_exporter.
//!
//! The system call sits behind [`TimexSource`], so the unit conversions are tested with fed values.

use crate::metrics::{MetricSet, MetricType};

use super::{BuildContext, CollectError, Collector, Registration};

pub const REGISTRATION: Registration = Registration {
    name: "timex",
    default_enabled: true,
    help: "clock discipline state from adjtimex(2) (the live kernel's, whatever --path.* says)",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(_ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(TimexCollector::new(Box::new(Kernel))))
}

/// What adjtimex(2) reports, in the kernel's own units (`struct timex` of <sys/timex.h>, widened
/// to 64 bits), plus the call's return value, the clock state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timex {
    /// The return value: TIME_OK (0) … TIME_ERROR (5).
    pub state: i32,
    /// Time offset, in microseconds, or nanoseconds when `status` has STA_NANO.
    pub offset: i64,
    /// Frequency offset, in ppm with a 16-bit binary fraction (65536 = 1 ppm).
    pub freq: i64,
    /// Maximum error, microseconds.
    pub maxerror: i64,
    /// Estimated error, microseconds.
    pub esterror: i64,
    /// Status bits (STA_*).
    pub status: i32,
    /// PLL time constant.
    pub constant: i64,
    /// Microseconds between clock ticks.
    pub tick: i64,
    /// PPS frequency, ppm with a 16-bit fraction.
    pub ppsfreq: i64,
    /// PPS jitter, microseconds or nanoseconds (STA_NANO).
    pub jitter: i64,
    /// PPS interval duration, as a power of two seconds.
    pub shift: i32,
    /// PPS stability, ppm with a 16-bit fraction.
    pub stabil: i64,
    /// PPS jitter limit exceeded events.
    pub jitcnt: i64,
    /// PPS calibration intervals.
    pub calcnt: i64,
    /// PPS calibration errors.
    pub errcnt: i64,
    /// PPS stability limit exceeded events.
    pub stbcnt: i64,
    /// TAI − UTC, seconds.
    pub tai: i32,
}

/// `adjtimex` returns TIME_ERROR when the clock is not synchronised to a reliable source.
pub const TIME_ERROR: i32 = 5;
/// Status bit: `offset` and `jitter` are in nanoseconds rather than microseconds.
pub const STA_NANO: i32 = 0x2000;
/// ppm with a 16-bit binary fraction → a plain ratio (see NOTES in adjtimex(2)).
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;

/// Where the collector gets its [`Timex`] from: the kernel, or a test.
pub trait TimexSource: Send + Sync {
    fn read(&self) -> std::io::Result<Timex>;
}

/// The live kernel, through adjtimex(2) with `modes = 0` (read only).
pub struct Kernel;

impl TimexSource for Kernel {
    // c_long is i64 here but 32 bits wide on 32-bit targets, so the conversions stay.
    #[allow(clippy::useless_conversion)]
    fn read(&self) -> std::io::Result<Timex> {
        // SAFETY: `timex` is plain integers (and a timeval), for which all-zero bytes are valid;
        // zero `modes` asks the kernel to change nothing.
        let mut t: libc::timex = unsafe { std::mem::zeroed() };
        t.modes = 0;
        // SAFETY: adjtimex writes only into `t`, which lives for the call.
        let state = unsafe { libc::adjtimex(&mut t) };
        if state < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Timex {
            state,
            offset: i64::from(t.offset),
            freq: i64::from(t.freq),
            maxerror: i64::from(t.maxerror),
            esterror: i64::from(t.esterror),
            status: t.status,
            constant: i64::from(t.constant),
            tick: i64::from(t.tick),
            ppsfreq: i64::from(t.ppsfreq),
            jitter: i64::from(t.jitter),
            shift: t.shift,
            stabil: i64::from(t.stabil),
            jitcnt: i64::from(t.jitcnt),
            calcnt: i64::from(t.calcnt),
            errcnt: i64::from(t.errcnt),
            stbcnt: i64::from(t.stbcnt),
            tai: t.tai,
        })
    }
}

/// Every exported metric: name, help and type, in the order of [`values`].
pub const METRICS: [(&str, &str, MetricType); 17] = [
    (
        "node_timex_sync_status",
        "Whether the clock is synchronised to a reliable server (1 = yes, 0 = no).",
        MetricType::Gauge,
    ),
    (
        "node_timex_offset_seconds",
        "Time offset between the local system and the reference clock.",
        MetricType::Gauge,
    ),
    (
        "node_timex_frequency_adjustment_ratio",
        "Local clock frequency adjustment.",
        MetricType::Gauge,
    ),
    (
        "node_timex_maxerror_seconds",
        "Maximum error in seconds.",
        MetricType::Gauge,
    ),
    (
        "node_timex_estimated_error_seconds",
        "Estimated error in seconds.",
        MetricType::Gauge,
    ),
    (
        "node_timex_status",
        "Value of the status array bits.",
        MetricType::Gauge,
    ),
    (
        "node_timex_loop_time_constant",
        "Phase-locked loop time constant.",
        MetricType::Gauge,
    ),
    (
        "node_timex_tick_seconds",
        "Seconds between clock ticks.",
        MetricType::Gauge,
    ),
    (
        "node_timex_pps_frequency_hertz",
        "Pulse per second frequency.",
        MetricType::Gauge,
    ),
    (
        "node_timex_pps_jitter_seconds",
        "Pulse per second jitter.",
        MetricType::Gauge,
    ),
    (
        "node_timex_pps_shift_seconds",
        "Pulse per second interval duration.",
        MetricType::Gauge,
    ),
    (
        "node_timex_pps_stability_hertz",
        "Pulse per second stability, average of recent frequency changes.",
        MetricType::Gauge,
    ),
    (
        "node_timex_pps_jitter_total",
        "Pulse per second count of jitter limit exceeded events.",
        MetricType::Counter,
    ),
    (
        "node_timex_pps_calibration_total",
        "Pulse per second count of calibration intervals.",
        MetricType::Counter,
    ),
    (
        "node_timex_pps_error_total",
        "Pulse per second count of calibration errors.",
        MetricType::Counter,
    ),
    (
        "node_timex_pps_stability_exceeded_total",
        "Pulse per second count of stability limit exceeded events.",
        MetricType::Counter,
    ),
    (
        "node_timex_tai_offset_seconds",
        "International Atomic Time (TAI) offset.",
        MetricType::Gauge,
    ),
];

/// The values of [`METRICS`] for one reading, converted as node_exporter does: offset and PPS
/// jitter by 10⁹ with STA_NANO and by 10⁶ without; errors and tick from microseconds;
/// frequencies from ppm with a 16-bit fraction (the clock's ratio is 1 + that); the rest as is.
pub fn values(t: &Timex) -> [f64; 17] {
    let divisor = if t.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    [
        if t.state == TIME_ERROR { 0.0 } else { 1.0 },
        t.offset as f64 / divisor,
        1.0 + t.freq as f64 / PPM16FRAC,
        t.maxerror as f64 / 1e6,
        t.esterror as f64 / 1e6,
        f64::from(t.status),
        t.constant as f64,
        t.tick as f64 / 1e6,
        t.ppsfreq as f64 / PPM16FRAC,
        t.jitter as f64 / divisor,
        f64::from(t.shift),
        t.stabil as f64 / PPM16FRAC,
        t.jitcnt as f64,
        t.calcnt as f64,
        t.errcnt as f64,
        t.stbcnt as f64,
        f64::from(t.tai),
    ]
}

pub struct TimexCollector {
    source: Box<dyn TimexSource>,
}

impl TimexCollector {
    pub fn new(source: Box<dyn TimexSource>) -> Self {
        TimexCollector { source }
    }
}

impl Collector for TimexCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let t = match self.source.read() {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::debug!(error = %e, "adjtimex refused, no timex metrics");
                return Ok(());
            }
            Err(e) => {
                return Err(CollectError::Other(format!(
                    "adjtimex(2) (read only) failed: {e}"
                )))
            }
        };
        for ((name, help, kind), value) in METRICS.iter().zip(values(&t)) {
            out.family(name, help, *kind).sample(&[], value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Fed(std::io::Result<Timex>);

    impl TimexSource for Fed {
        fn read(&self) -> std::io::Result<Timex> {
            match &self.0 {
                Ok(t) => Ok(*t),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            }
        }
    }

    fn value(out: &MetricSet, name: &str) -> f64 {
        let family = out.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(family.samples.len(), 1);
        family.samples[0].value
    }

    fn collect(t: Timex) -> MetricSet {
        let mut out = MetricSet::new();
        TimexCollector::new(Box::new(Fed(Ok(t))))
            .collect(&mut out)
            .unwrap();
        out
    }

    /// A disciplined clock in nanosecond mode (STA_PLL | STA_NANO), synchronised.
    fn reading() -> Timex {
        Timex {
            state: 0,
            offset: -1500,    // -1.5 ms
            freq: -1_234_567, // about -18.84 ppm
            maxerror: 16_500, // 16.5 ms
            esterror: 250,    // 0.25 ms
            status: 0x2001,   // STA_PLL | STA_NANO
            constant: 7,
            tick: 10_000,       // 10 ms
            ppsfreq: 3 * 65536, // 3 ppm
            jitter: 2_000,
            shift: 2,
            stabil: 65536 / 2, // 0.5 ppm
            jitcnt: 4,
            calcnt: 11,
            errcnt: 1,
            stbcnt: 2,
            tai: 37,
        }
    }

    #[test]
    fn microsecond_mode_conversions() {
        let t = Timex {
            status: 0x0001, // STA_PLL only: microseconds
            ..reading()
        };
        let out = collect(t);
        assert_eq!(value(&out, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&out, "node_timex_offset_seconds"), -0.0015);
        assert_eq!(value(&out, "node_timex_pps_jitter_seconds"), 0.002);
        assert_eq!(
            value(&out, "node_timex_frequency_adjustment_ratio"),
            1.0 - 1_234_567.0 / 65_536_000_000.0
        );
        assert_eq!(value(&out, "node_timex_maxerror_seconds"), 0.0165);
        assert_eq!(value(&out, "node_timex_estimated_error_seconds"), 0.00025);
        assert_eq!(value(&out, "node_timex_status"), 1.0);
        assert_eq!(value(&out, "node_timex_loop_time_constant"), 7.0);
        assert_eq!(value(&out, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&out, "node_timex_pps_frequency_hertz"), 3e-6);
        assert_eq!(value(&out, "node_timex_pps_shift_seconds"), 2.0);
        assert_eq!(value(&out, "node_timex_pps_stability_hertz"), 0.5e-6);
        assert_eq!(value(&out, "node_timex_pps_jitter_total"), 4.0);
        assert_eq!(value(&out, "node_timex_pps_calibration_total"), 11.0);
        assert_eq!(value(&out, "node_timex_pps_error_total"), 1.0);
        assert_eq!(value(&out, "node_timex_pps_stability_exceeded_total"), 2.0);
        assert_eq!(value(&out, "node_timex_tai_offset_seconds"), 37.0);
        assert_eq!(out.families.len(), 17);
        assert_eq!(
            out.get("node_timex_pps_error_total").unwrap().kind,
            MetricType::Counter
        );
    }

    #[test]
    fn nanosecond_mode_divides_offset_and_jitter_only() {
        // STA_NANO set: offset and jitter are nanoseconds; maxerror, esterror and tick stay
        // microseconds whatever the mode (the kernel keeps those in µs).
        let out = collect(reading());
        assert_eq!(value(&out, "node_timex_offset_seconds"), -0.0000015);
        assert_eq!(value(&out, "node_timex_pps_jitter_seconds"), 0.000002);
        assert_eq!(value(&out, "node_timex_maxerror_seconds"), 0.0165);
        assert_eq!(value(&out, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&out, "node_timex_status"), f64::from(0x2001));
    }

    #[test]
    fn time_error_means_unsynchronised() {
        for (state, synced) in [(0, 1.0), (1, 1.0), (4, 1.0), (TIME_ERROR, 0.0)] {
            let out = collect(Timex {
                state,
                ..Timex::default()
            });
            assert_eq!(
                value(&out, "node_timex_sync_status"),
                synced,
                "state {state}"
            );
            // An idle clock still reports a ratio of exactly 1.
            assert_eq!(value(&out, "node_timex_frequency_adjustment_ratio"), 1.0);
        }
    }

    #[test]
    fn refused_call_is_no_data_and_other_errors_fail() {
        let mut out = MetricSet::new();
        let refused = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        TimexCollector::new(Box::new(Fed(Err(refused))))
            .collect(&mut out)
            .unwrap();
        assert_eq!(out.sample_count(), 0);

        let odd = std::io::Error::from_raw_os_error(libc::EINVAL);
        let err = TimexCollector::new(Box::new(Fed(Err(odd))))
            .collect(&mut out)
            .unwrap_err()
            .to_string();
        assert!(err.contains("adjtimex"), "{err}");
    }

    #[test]
    fn live_kernel_read_succeeds() {
        // Read only, no privilege needed: this must work wherever the tests run.
        let t = Kernel.read().expect("adjtimex with modes = 0");
        assert!((0..=5).contains(&t.state), "clock state {}", t.state);
        assert!(t.tick > 0, "a tick length: {t:?}");
        let out = collect(t);
        assert_eq!(out.families.len(), 17);
        assert!(out.families.iter().all(|f| f.samples[0].value.is_finite()));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_reading_converts_to_finite_values(
            state in any::<i32>(), offset in any::<i64>(), freq in any::<i64>(),
            status in any::<i32>(), jitter in any::<i64>(), tai in any::<i32>(),
            shift in any::<i32>(), counts in any::<[i64; 4]>(),
        ) {
            let t = Timex {
                state, offset, freq, status, jitter, tai, shift,
                jitcnt: counts[0], calcnt: counts[1], errcnt: counts[2], stbcnt: counts[3],
                ..Timex::default()
            };
            let v = values(&t);
            prop_assert!(v.iter().all(|x| x.is_finite()));
            prop_assert!(v[0] == 0.0 || v[0] == 1.0);
            let divisor = if status & STA_NANO != 0 { 1e9 } else { 1e6 };
            prop_assert_eq!(v[1], offset as f64 / divisor);
            prop_assert_eq!(v[16], f64::from(tai));
        }
    }
}
