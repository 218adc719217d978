//! Parsing of mountinfo (proc(5)): one line into a [`Mount`], the kernel's octal escapes in paths,
//! and the read-only test node_exporter applies to the mount options.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// One line of mountinfo (proc(5)), reduced to what the collector uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub major: u32,
    pub minor: u32,
    /// The mount point with the kernel's octal escapes decoded; raw bytes, as a path may be any.
    pub mount_point: PathBuf,
    /// Per-mount options ("rw,nosuid,relatime").
    pub options: String,
    pub fs_type: String,
    /// The mount source, node_exporter's `device` label, as the kernel prints it.
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

/// Parses one line of mountinfo:
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
///
/// Hand-parsed rather than with procfs-core's `MountInfo::from_line`: that one needs UTF-8
/// lines, turns a "none" source into no source (node_exporter keeps `device="none"`), and leaves
/// the mount point escaped. Like the Go procfs parser node_exporter uses, the separator is looked
/// for as the fourth field from the end, after any number of optional fields.
pub fn parse_mountinfo_line(line: &[u8]) -> Result<Mount, String> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let n = fields.len();
    if n < 10 {
        return Err(format!("expected at least 10 fields, found {n}"));
    }
    if fields[n - 4] != b"-" {
        return Err("expected \"-\" as the fourth field from the end".to_string());
    }
    let text = |field: &[u8]| String::from_utf8_lossy(field).into_owned();
    for (field, what) in [(fields[0], "mount ID"), (fields[1], "parent ID")] {
        if text(field).parse::<u64>().is_err() {
            return Err(format!(
                "{what}: expected an integer, found {:?}",
                text(field)
            ));
        }
    }
    let dev = text(fields[2]);
    let (major, minor) = dev
        .split_once(':')
        .and_then(|(ma, mi)| Some((ma.parse::<u32>().ok()?, mi.parse::<u32>().ok()?)))
        .ok_or_else(|| format!("expected major:minor, found {dev:?}"))?;
    Ok(Mount {
        major,
        minor,
        mount_point: PathBuf::from(OsStr::from_bytes(&unescape(fields[4]))),
        options: text(fields[5]),
        fs_type: text(fields[n - 3]),
        source: text(fields[n - 2]),
        super_options: text(fields[n - 1]),
    })
}

/// Decodes the kernel's octal escapes in a mountinfo path (`\040` for a space; the kernel also
/// escapes tab, newline and backslash). node_exporter decodes only space and tab; decoding all of
/// them keeps statfs working on such paths and changes nothing for the others.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if let [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] = field[i..] {
            out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

/// Whether the mount is read-only, as node_exporter 1.12 decides it from mountinfo: `ro` in the
/// per-mount or the superblock options, or ext4's `emergency_ro` (Linux 6.15+, set instead of `ro`
/// when errors=remount-ro has triggered).
pub fn is_read_only(mount: &Mount) -> bool {
    mount.options.split(',').any(|o| o == "ro")
        || mount
            .super_options
            .split(',')
            .any(|o| o == "ro" || o == "emergency_ro")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let m = parse_mountinfo_line(
            b"65 24 253:2 / /home rw,relatime shared:34 master:2 - ext4 /dev/mapper/vgubuntu-home rw,errors=remount-ro",
        )
        .unwrap();
        assert_eq!((m.major, m.minor), (253, 2));
        assert_eq!(m.mount_point, PathBuf::from("/home"));
        assert_eq!(m.options, "rw,relatime");
        assert_eq!(m.fs_type, "ext4");
        assert_eq!(m.source, "/dev/mapper/vgubuntu-home");
        assert_eq!(m.super_options, "rw,errors=remount-ro");

        // No optional fields, a "none" source and an escaped space.
        let m =
            parse_mountinfo_line(b"90 24 0:50 / /media/My\\040Disk rw - tmpfs none rw").unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/media/My Disk"));
        assert_eq!(m.source, "none");
    }

    #[test]
    fn rejects_malformed_mountinfo_lines() {
        for line in [
            &b"61 24 259:2 / /boot rw,relatime shared:32 - ext4"[..],
            b"61 24 259:2 / /boot rw,relatime shared:32 ext4 /dev/nvme0n1p2 rw",
            b"61 24 sda / /boot rw,relatime shared:32 - ext4 /dev/nvme0n1p2 rw",
            b"61 24 259 / /boot rw,relatime shared:32 - ext4 /dev/nvme0n1p2 rw",
            b"x 24 259:2 / /boot rw,relatime shared:32 - ext4 /dev/nvme0n1p2 rw",
            b"",
        ] {
            assert!(
                parse_mountinfo_line(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn unescapes_kernel_octal_escapes() {
        assert_eq!(unescape(br"/a\040b\011c\012d\134e"), b"/a b\tc\nd\\e");
        // Not an escape: left as is.
        assert_eq!(unescape(br"/a\9b\04"), br"/a\9b\04");
        // Non-UTF-8 bytes survive.
        assert_eq!(unescape(b"/x\xff"), b"/x\xff");
    }

    #[test]
    fn read_only_from_mount_or_superblock_options() {
        let mount = |options: &str, super_options: &str| Mount {
            major: 8,
            minor: 1,
            mount_point: PathBuf::from("/"),
            options: options.to_string(),
            fs_type: "ext4".to_string(),
            source: "/dev/sda1".to_string(),
            super_options: super_options.to_string(),
        };
        assert!(is_read_only(&mount("ro,relatime", "rw")));
        assert!(is_read_only(&mount("rw,relatime", "ro,errors=remount-ro")));
        assert!(is_read_only(&mount("rw", "rw,emergency_ro")));
        assert!(!is_read_only(&mount("rw,relatime", "rw,errors=remount-ro")));
        assert!(!is_read_only(&mount("rw,proto=tcp,rootcontext=x", "rw")));
    }
}
