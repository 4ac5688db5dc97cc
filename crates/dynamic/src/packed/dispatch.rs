//! The packed encoding's loops compiled for the CPU they run on (audited unsafe, see
//! docs/ARCHITECTURE.md "Unsafe code"): on x86-64 with BMI2 and POPCNT, found at run time, a
//! word's tag is counted by `popcnt` (one cycle, where the portable table is a load on the
//! path from each tag to the next) and its bytes are placed by one `pdep` under the tag's byte
//! mask, or gathered by one `pext` when packing (no jump table, so no indirect branch to
//! mispredict). The loops themselves are `unpack_fast_with` and `pack_with`, the same code as
//! the portable ones; only these steps differ.

#![allow(unsafe_code)]

/// `unpack_fast_with` with the fastest steps this CPU has (see the module comment).
pub(super) fn unpack_fast<'a>(input: &'a [u8], out: &mut [u8]) -> capnp::Result<(&'a [u8], usize)> {
    #[cfg(target_arch = "x86_64")]
    {
        if has_bmi2() {
            // SAFETY: `unpack_fast_bmi2` is compiled for BMI2 and POPCNT, which the CPU was
            // just found to have; it is otherwise a safe function (no unsafe code inside).
            return unsafe { unpack_fast_bmi2(input, out) };
        }
    }
    super::unpack_fast_portable(input, out)
}

/// `pack_with` with the fastest steps this CPU has: with BMI2 and POPCNT a word's tag is
/// gathered from its nonzero bytes' high bits and its bytes by one `pext` each, no jump table.
pub(super) fn pack(buf: &[u8], out: &mut Vec<u8>) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_bmi2() {
            // SAFETY: `pack_bmi2` is compiled for BMI2 and POPCNT, which the CPU was just
            // found to have; it is otherwise a safe function (no unsafe code inside).
            return unsafe { pack_bmi2(buf, out) };
        }
    }
    super::pack_portable(buf, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,popcnt")]
fn pack_bmi2(buf: &[u8], out: &mut Vec<u8>) {
    use std::arch::x86_64::_pext_u64;
    super::pack_with(buf, out, |w| {
        let nonzero = super::nonzero_bytes(w);
        let tag = _pext_u64(nonzero, 0x8080_8080_8080_8080) as u8;
        // 0xff in each nonzero byte.
        let mask = (nonzero >> 7).wrapping_mul(0xff);
        (tag, _pext_u64(w, mask), nonzero.count_ones() as usize)
    })
}

/// Whether the CPU has what `unpack_fast_bmi2` is compiled for, and runs `pdep`/`pext` in
/// hardware: AMD's cores before Zen 3 (family 0x17, and Hygon's 0x18) have BMI2 but run
/// them in microcode, tens to hundreds of cycles each, far slower than the portable loop.
/// Asked once, then a load.
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_bmi2() -> bool {
    static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FAST.get_or_init(|| {
        std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("popcnt")
            && !slow_pdep()
    })
}

/// AMD (or Hygon) before family 0x19 (Zen 3).
#[cfg(target_arch = "x86_64")]
fn slow_pdep() -> bool {
    use std::arch::x86_64::__cpuid;
    // `cpuid` exists on every x86-64 CPU; leaves 0 and 1 always do.
    let (vendor, signature) = (__cpuid(0), __cpuid(1).eax);
    let mut name = [0u8; 12];
    name[..4].copy_from_slice(&vendor.ebx.to_le_bytes());
    name[4..8].copy_from_slice(&vendor.edx.to_le_bytes());
    name[8..].copy_from_slice(&vendor.ecx.to_le_bytes());
    let base = (signature >> 8) & 0xf;
    let family = if base == 0xf {
        base + ((signature >> 20) & 0xff)
    } else {
        base
    };
    (&name == b"AuthenticAMD" || &name == b"HygonGenuine") && family < 0x19
}

/// Each tag's byte mask: byte `i` is 0xff when bit `i` of the tag is set.
#[cfg(target_arch = "x86_64")]
const BYTE_MASKS: [u64; 256] = {
    let mut masks = [0u64; 256];
    let mut tag = 0;
    while tag < 256 {
        let mut bit = 0;
        while bit < 8 {
            if tag & (1 << bit) != 0 {
                masks[tag] |= 0xff << (8 * bit);
            }
            bit += 1;
        }
        tag += 1;
    }
    masks
};

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,popcnt")]
fn unpack_fast_bmi2<'a>(input: &'a [u8], out: &mut [u8]) -> capnp::Result<(&'a [u8], usize)> {
    use std::arch::x86_64::_pdep_u64;
    super::unpack_fast_with(
        input,
        out,
        |tag| tag.count_ones() as usize,
        |tag, data| _pdep_u64(data, BYTE_MASKS[usize::from(tag)]),
    )
}

/// The portable packer and this CPU's one on the same words: the same bytes.
#[cfg(test)]
pub(super) fn assert_packs_as_portable(buf: &[u8]) {
    let mut portable = vec![7u8];
    super::pack_portable(buf, &mut portable);
    #[cfg(target_arch = "x86_64")]
    if has_bmi2() {
        let mut native = vec![7u8];
        // SAFETY: as in `pack`: the CPU has both features.
        unsafe { pack_bmi2(buf, &mut native) };
        assert_eq!(native, portable, "{buf:?}");
    }
}

/// The portable loop and this CPU's one on the same bytes: the same words, the same input
/// left, or the same error (the packed module's tests call this on every shape of input).
#[cfg(test)]
pub(super) fn assert_same_as_portable(input: &[u8], words: usize) {
    let mut portable_out = vec![0u8; words * 8];
    let portable = super::unpack_fast_portable(input, &mut portable_out)
        .map(|(rest, left)| (rest.len(), left))
        .map_err(|e| e.kind);
    #[cfg(target_arch = "x86_64")]
    if has_bmi2() {
        let mut native_out = vec![0u8; words * 8];
        // SAFETY: as in `unpack_fast`: the CPU has both features.
        let native = unsafe { unpack_fast_bmi2(input, &mut native_out) }
            .map(|(rest, left)| (rest.len(), left))
            .map_err(|e| e.kind);
        assert_eq!(native, portable, "{input:?} into {words} words");
        if native.is_ok() {
            assert_eq!(native_out, portable_out, "{input:?} into {words} words");
        }
    }
}
