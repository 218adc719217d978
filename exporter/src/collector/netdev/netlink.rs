//! The live kernel's link statistics over rtnetlink: one `RTM_GETLINK` dump returns every
//! interface's name and `rtnl_link_stats64` (`IFLA_STATS64`), the structure node_exporter's default
//! netlink mode reads and the one the kernel also prints into `/sys/class/net/*/statistics/*`.
//!
//! One request and a few reads replace 24 file reads per interface, which is what makes netdev,
//! a collector the anomaly rules read every sample, cheap. It answers for the exporter's own
//! network namespace, so the collector uses it only when `--path.sysfs` is the live `/sys`
//! (a fixture tree, or another machine's /sys, is read file by file).
//!
//! Messages are parsed here rather than through a netlink crate: the exporter needs one request
//! and two attributes of the answer, which the layout in linux/netlink.h and linux/rtnetlink.h
//! fixes (native-endian headers, attributes aligned to 4 bytes).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `struct nlmsghdr`: length, type, flags, sequence, port.
const NLMSG_HDRLEN: usize = 16;
/// `struct ifinfomsg`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const IFLA_IFNAME: u16 = 3;
const IFLA_STATS64: u16 = 23;

/// One interface: its name and the first 24 counters of `rtnl_link_stats64`, in the kernel's
/// order (the same order as [`super::STATISTICS`]). A kernel before 4.6 sends 23 (no
/// `rx_nohandler`), which reads as 0; newer kernels append more, which are not read.
pub type LinkStats = (String, [u64; 24]);

/// Asks the kernel for every link's statistics.
pub fn link_stats() -> io::Result<Vec<LinkStats>> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // A socket that stops answering must not hold the sampler: reads time out after 1 s.
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: setsockopt with a valid pointer to a timeval and its size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }

    let request = dump_request(1);
    // SAFETY: sends the request buffer; the kernel is the destination (default address).
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }

    let mut links = Vec::new();
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: receives into the buffer, at most its length.
        let n = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "netlink socket closed before the end of the dump",
            ));
        }
        match parse_messages(&buffer[..n as usize], &mut links)? {
            Parsed::Done => return Ok(links),
            Parsed::More => {}
        }
    }
}

/// An `RTM_GETLINK` dump request for every address family.
fn dump_request(sequence: u32) -> Vec<u8> {
    let len = NLMSG_HDRLEN + IFINFOMSG_LEN;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&RTM_GETLINK.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&sequence.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0u8; IFINFOMSG_LEN]);
    m
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// The dump's end (`NLMSG_DONE`) was in this datagram.
    Done,
    /// More datagrams follow.
    More,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed netlink answer: {what}"),
    )
}

/// Parses one datagram of the dump's answer, appending each link to `links`.
pub fn parse_messages(mut b: &[u8], links: &mut Vec<LinkStats>) -> io::Result<Parsed> {
    while !b.is_empty() {
        let len = u32_at(b, 0).ok_or_else(|| malformed("short message header"))? as usize;
        let kind = u16_at(b, 4).ok_or_else(|| malformed("short message header"))?;
        if len < NLMSG_HDRLEN || len > b.len() {
            return Err(malformed("message length out of bounds"));
        }
        let payload = &b[NLMSG_HDRLEN..len];
        match kind {
            NLMSG_DONE => return Ok(Parsed::Done),
            NLMSG_ERROR => {
                let code = u32_at(payload, 0).ok_or_else(|| malformed("short error"))? as i32;
                return Err(if code == 0 {
                    malformed("acknowledgement instead of a dump")
                } else {
                    io::Error::from_raw_os_error(-code)
                });
            }
            RTM_NEWLINK => {
                if let Some(link) = parse_link(payload)? {
                    links.push(link);
                }
            }
            _ => {}
        }
        b = &b[align4(len).min(b.len())..];
    }
    Ok(Parsed::More)
}

/// One `RTM_NEWLINK`: `Ok(None)` for a link without a name or statistics.
fn parse_link(payload: &[u8]) -> io::Result<Option<LinkStats>> {
    let mut attrs = payload
        .get(IFINFOMSG_LEN..)
        .ok_or_else(|| malformed("short link message"))?;
    let mut name = None;
    let mut stats = None;
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0).unwrap_or(0) as usize;
        // The top bits of the type are flags (nested, byte order).
        let kind = u16_at(attrs, 2).unwrap_or(0) & 0x3fff;
        if len < 4 || len > attrs.len() {
            return Err(malformed("attribute length out of bounds"));
        }
        let value = &attrs[4..len];
        match kind {
            IFLA_IFNAME => {
                let end = value.iter().position(|&c| c == 0).unwrap_or(value.len());
                name = Some(String::from_utf8_lossy(&value[..end]).into_owned());
            }
            IFLA_STATS64 => {
                let mut counters = [0u64; 24];
                for (i, chunk) in value.chunks_exact(8).take(24).enumerate() {
                    counters[i] = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
                }
                if value.len() < 23 * 8 {
                    return Err(malformed("IFLA_STATS64 shorter than 23 counters"));
                }
                stats = Some(counters);
            }
            _ => {}
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    Ok(name.zip(stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0x2u16.to_ne_bytes());
        m.extend_from_slice(&1u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m
    }

    fn link(name: &str, counters: &[u64]) -> Vec<u8> {
        let mut p = vec![0u8; IFINFOMSG_LEN];
        p.extend(attr(IFLA_IFNAME, format!("{name}\0").as_bytes()));
        p.extend(attr(4, &1500u32.to_ne_bytes())); // IFLA_MTU, ignored
        let stats: Vec<u8> = counters.iter().flat_map(|c| c.to_ne_bytes()).collect();
        p.extend(attr(IFLA_STATS64, &stats));
        message(RTM_NEWLINK, &p)
    }

    #[test]
    fn parses_a_dump() {
        let counters: Vec<u64> = (1..=25).collect();
        let mut datagram = link("eth0", &counters);
        // A kernel before 4.6: 23 counters, no rx_nohandler.
        datagram.extend(link("lo", &counters[..23]));
        let mut links = Vec::new();
        assert_eq!(parse_messages(&datagram, &mut links).unwrap(), Parsed::More);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].0, "eth0");
        assert_eq!(links[0].1[0], 1);
        assert_eq!(
            links[0].1[23], 24,
            "rx_nohandler; the 25th counter is not read"
        );
        assert_eq!(links[1].0, "lo");
        assert_eq!(links[1].1[23], 0);
        let done = message(NLMSG_DONE, &0u32.to_ne_bytes());
        assert_eq!(parse_messages(&done, &mut links).unwrap(), Parsed::Done);
    }

    #[test]
    fn errors_and_malformed_answers_are_errors() {
        let error = message(NLMSG_ERROR, &(-libc::EPERM).to_ne_bytes());
        let e = parse_messages(&error, &mut Vec::new()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        let mut long = link("eth0", &[1; 24]);
        long[0] = 0xff; // length past the datagram
        assert!(parse_messages(&long, &mut Vec::new()).is_err());
        let short_stats = {
            let mut p = vec![0u8; IFINFOMSG_LEN];
            p.extend(attr(IFLA_IFNAME, b"eth0\0"));
            p.extend(attr(IFLA_STATS64, &[0u8; 16]));
            message(RTM_NEWLINK, &p)
        };
        assert!(parse_messages(&short_stats, &mut Vec::new()).is_err());
    }

    /// The live kernel answers, with the loopback interface among the links, and its counters
    /// agree with the ones sysfs shows (read after, so they can only have grown).
    #[test]
    fn live_kernel_answers_like_sysfs() {
        let links = link_stats().expect("rtnetlink dump of the live kernel");
        let lo = links
            .iter()
            .find(|(n, _)| n == "lo")
            .expect("loopback in the dump");
        let sysfs: u64 = std::fs::read_to_string("/sys/class/net/lo/statistics/rx_bytes")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(lo.1[2] <= sysfs, "rx_bytes {} then {sysfs}", lo.1[2]);
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_messages(&bytes, &mut Vec::new());
        }

        #[test]
        fn generated_links_parse_back(name in "[a-z][a-z0-9]{0,14}", counters in proptest::collection::vec(any::<u64>(), 24)) {
            let mut links = Vec::new();
            parse_messages(&link(&name, &counters), &mut links).unwrap();
            prop_assert_eq!(links.len(), 1);
            prop_assert_eq!(&links[0].0, &name);
            prop_assert_eq!(&links[0].1[..], &counters[..]);
        }
    }
}
