//! Generated: a `match` over every tag whose arm places the tag's nonzero bytes with constant
//! shifts and masks (one jump table, a few instructions a word; a loop over the set bits took
//! ~60). `packed::tests::every_tag_expands_by_its_bits` checks every arm against the rule.
//! The generator (Python), for each tag: split the set bits into runs of consecutive bits
//! `(start, len)`; a run takes the next `len` bytes of `d` (from byte `src`, the bytes taken
//! so far) as `((d >> 8*src) & (2**(8*len) - 1)) << 8*start`, the shift left out when `src`
//! is 0, the mask when the run reaches byte 8; the arm is the runs or-ed.

/// The word whose nonzero bytes are the low `tag.count_ones()` bytes of `d`, at the positions
/// of the tag's set bits.
#[inline(always)]
pub(super) fn expand(tag: u8, d: u64) -> u64 {
    match tag {
        0 => 0,
        1 => d & 0xff,
        2 => (d & 0xff) << 8,
        3 => d & 0xffff,
        4 => (d & 0xff) << 16,
        5 => (d & 0xff) | (((d >> 8) & 0xff) << 16),
        6 => (d & 0xffff) << 8,
        7 => d & 0xffffff,
        8 => (d & 0xff) << 24,
        9 => (d & 0xff) | (((d >> 8) & 0xff) << 24),
        10 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 24),
        11 => (d & 0xffff) | (((d >> 16) & 0xff) << 24),
        12 => (d & 0xffff) << 16,
        13 => (d & 0xff) | (((d >> 8) & 0xffff) << 16),
        14 => (d & 0xffffff) << 8,
        15 => d & 0xffffffff,
        16 => (d & 0xff) << 32,
        17 => (d & 0xff) | (((d >> 8) & 0xff) << 32),
        18 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 32),
        19 => (d & 0xffff) | (((d >> 16) & 0xff) << 32),
        20 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 32),
        21 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xff) << 32),
        22 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 32),
        23 => (d & 0xffffff) | (((d >> 24) & 0xff) << 32),
        24 => (d & 0xffff) << 24,
        25 => (d & 0xff) | (((d >> 8) & 0xffff) << 24),
        26 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 24),
        27 => (d & 0xffff) | (((d >> 16) & 0xffff) << 24),
        28 => (d & 0xffffff) << 16,
        29 => (d & 0xff) | (((d >> 8) & 0xffffff) << 16),
        30 => (d & 0xffffffff) << 8,
        31 => d & 0xffffffffff,
        32 => (d & 0xff) << 40,
        33 => (d & 0xff) | (((d >> 8) & 0xff) << 40),
        34 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 40),
        35 => (d & 0xffff) | (((d >> 16) & 0xff) << 40),
        36 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 40),
        37 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xff) << 40),
        38 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 40),
        39 => (d & 0xffffff) | (((d >> 24) & 0xff) << 40),
        40 => ((d & 0xff) << 24) | (((d >> 8) & 0xff) << 40),
        41 => (d & 0xff) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xff) << 40),
        42 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xff) << 40),
        43 => (d & 0xffff) | (((d >> 16) & 0xff) << 24) | (((d >> 24) & 0xff) << 40),
        44 => ((d & 0xffff) << 16) | (((d >> 16) & 0xff) << 40),
        45 => (d & 0xff) | (((d >> 8) & 0xffff) << 16) | (((d >> 24) & 0xff) << 40),
        46 => ((d & 0xffffff) << 8) | (((d >> 24) & 0xff) << 40),
        47 => (d & 0xffffffff) | (((d >> 32) & 0xff) << 40),
        48 => (d & 0xffff) << 32,
        49 => (d & 0xff) | (((d >> 8) & 0xffff) << 32),
        50 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 32),
        51 => (d & 0xffff) | (((d >> 16) & 0xffff) << 32),
        52 => ((d & 0xff) << 16) | (((d >> 8) & 0xffff) << 32),
        53 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xffff) << 32),
        54 => ((d & 0xffff) << 8) | (((d >> 16) & 0xffff) << 32),
        55 => (d & 0xffffff) | (((d >> 24) & 0xffff) << 32),
        56 => (d & 0xffffff) << 24,
        57 => (d & 0xff) | (((d >> 8) & 0xffffff) << 24),
        58 => ((d & 0xff) << 8) | (((d >> 8) & 0xffffff) << 24),
        59 => (d & 0xffff) | (((d >> 16) & 0xffffff) << 24),
        60 => (d & 0xffffffff) << 16,
        61 => (d & 0xff) | (((d >> 8) & 0xffffffff) << 16),
        62 => (d & 0xffffffffff) << 8,
        63 => d & 0xffffffffffff,
        64 => (d & 0xff) << 48,
        65 => (d & 0xff) | (((d >> 8) & 0xff) << 48),
        66 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 48),
        67 => (d & 0xffff) | (((d >> 16) & 0xff) << 48),
        68 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 48),
        69 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xff) << 48),
        70 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 48),
        71 => (d & 0xffffff) | (((d >> 24) & 0xff) << 48),
        72 => ((d & 0xff) << 24) | (((d >> 8) & 0xff) << 48),
        73 => (d & 0xff) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xff) << 48),
        74 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xff) << 48),
        75 => (d & 0xffff) | (((d >> 16) & 0xff) << 24) | (((d >> 24) & 0xff) << 48),
        76 => ((d & 0xffff) << 16) | (((d >> 16) & 0xff) << 48),
        77 => (d & 0xff) | (((d >> 8) & 0xffff) << 16) | (((d >> 24) & 0xff) << 48),
        78 => ((d & 0xffffff) << 8) | (((d >> 24) & 0xff) << 48),
        79 => (d & 0xffffffff) | (((d >> 32) & 0xff) << 48),
        80 => ((d & 0xff) << 32) | (((d >> 8) & 0xff) << 48),
        81 => (d & 0xff) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xff) << 48),
        82 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xff) << 48),
        83 => (d & 0xffff) | (((d >> 16) & 0xff) << 32) | (((d >> 24) & 0xff) << 48),
        84 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xff) << 48),
        85 => {
            (d & 0xff)
                | (((d >> 8) & 0xff) << 16)
                | (((d >> 16) & 0xff) << 32)
                | (((d >> 24) & 0xff) << 48)
        }
        86 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 32) | (((d >> 24) & 0xff) << 48),
        87 => (d & 0xffffff) | (((d >> 24) & 0xff) << 32) | (((d >> 32) & 0xff) << 48),
        88 => ((d & 0xffff) << 24) | (((d >> 16) & 0xff) << 48),
        89 => (d & 0xff) | (((d >> 8) & 0xffff) << 24) | (((d >> 24) & 0xff) << 48),
        90 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 24) | (((d >> 24) & 0xff) << 48),
        91 => (d & 0xffff) | (((d >> 16) & 0xffff) << 24) | (((d >> 32) & 0xff) << 48),
        92 => ((d & 0xffffff) << 16) | (((d >> 24) & 0xff) << 48),
        93 => (d & 0xff) | (((d >> 8) & 0xffffff) << 16) | (((d >> 32) & 0xff) << 48),
        94 => ((d & 0xffffffff) << 8) | (((d >> 32) & 0xff) << 48),
        95 => (d & 0xffffffffff) | (((d >> 40) & 0xff) << 48),
        96 => (d & 0xffff) << 40,
        97 => (d & 0xff) | (((d >> 8) & 0xffff) << 40),
        98 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 40),
        99 => (d & 0xffff) | (((d >> 16) & 0xffff) << 40),
        100 => ((d & 0xff) << 16) | (((d >> 8) & 0xffff) << 40),
        101 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xffff) << 40),
        102 => ((d & 0xffff) << 8) | (((d >> 16) & 0xffff) << 40),
        103 => (d & 0xffffff) | (((d >> 24) & 0xffff) << 40),
        104 => ((d & 0xff) << 24) | (((d >> 8) & 0xffff) << 40),
        105 => (d & 0xff) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xffff) << 40),
        106 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xffff) << 40),
        107 => (d & 0xffff) | (((d >> 16) & 0xff) << 24) | (((d >> 24) & 0xffff) << 40),
        108 => ((d & 0xffff) << 16) | (((d >> 16) & 0xffff) << 40),
        109 => (d & 0xff) | (((d >> 8) & 0xffff) << 16) | (((d >> 24) & 0xffff) << 40),
        110 => ((d & 0xffffff) << 8) | (((d >> 24) & 0xffff) << 40),
        111 => (d & 0xffffffff) | (((d >> 32) & 0xffff) << 40),
        112 => (d & 0xffffff) << 32,
        113 => (d & 0xff) | (((d >> 8) & 0xffffff) << 32),
        114 => ((d & 0xff) << 8) | (((d >> 8) & 0xffffff) << 32),
        115 => (d & 0xffff) | (((d >> 16) & 0xffffff) << 32),
        116 => ((d & 0xff) << 16) | (((d >> 8) & 0xffffff) << 32),
        117 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xffffff) << 32),
        118 => ((d & 0xffff) << 8) | (((d >> 16) & 0xffffff) << 32),
        119 => (d & 0xffffff) | (((d >> 24) & 0xffffff) << 32),
        120 => (d & 0xffffffff) << 24,
        121 => (d & 0xff) | (((d >> 8) & 0xffffffff) << 24),
        122 => ((d & 0xff) << 8) | (((d >> 8) & 0xffffffff) << 24),
        123 => (d & 0xffff) | (((d >> 16) & 0xffffffff) << 24),
        124 => (d & 0xffffffffff) << 16,
        125 => (d & 0xff) | (((d >> 8) & 0xffffffffff) << 16),
        126 => (d & 0xffffffffffff) << 8,
        127 => d & 0xffffffffffffff,
        128 => (d & 0xff) << 56,
        129 => (d & 0xff) | (((d >> 8) & 0xff) << 56),
        130 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 56),
        131 => (d & 0xffff) | (((d >> 16) & 0xff) << 56),
        132 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 56),
        133 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xff) << 56),
        134 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 56),
        135 => (d & 0xffffff) | (((d >> 24) & 0xff) << 56),
        136 => ((d & 0xff) << 24) | (((d >> 8) & 0xff) << 56),
        137 => (d & 0xff) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xff) << 56),
        138 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xff) << 56),
        139 => (d & 0xffff) | (((d >> 16) & 0xff) << 24) | (((d >> 24) & 0xff) << 56),
        140 => ((d & 0xffff) << 16) | (((d >> 16) & 0xff) << 56),
        141 => (d & 0xff) | (((d >> 8) & 0xffff) << 16) | (((d >> 24) & 0xff) << 56),
        142 => ((d & 0xffffff) << 8) | (((d >> 24) & 0xff) << 56),
        143 => (d & 0xffffffff) | (((d >> 32) & 0xff) << 56),
        144 => ((d & 0xff) << 32) | (((d >> 8) & 0xff) << 56),
        145 => (d & 0xff) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xff) << 56),
        146 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xff) << 56),
        147 => (d & 0xffff) | (((d >> 16) & 0xff) << 32) | (((d >> 24) & 0xff) << 56),
        148 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xff) << 56),
        149 => {
            (d & 0xff)
                | (((d >> 8) & 0xff) << 16)
                | (((d >> 16) & 0xff) << 32)
                | (((d >> 24) & 0xff) << 56)
        }
        150 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 32) | (((d >> 24) & 0xff) << 56),
        151 => (d & 0xffffff) | (((d >> 24) & 0xff) << 32) | (((d >> 32) & 0xff) << 56),
        152 => ((d & 0xffff) << 24) | (((d >> 16) & 0xff) << 56),
        153 => (d & 0xff) | (((d >> 8) & 0xffff) << 24) | (((d >> 24) & 0xff) << 56),
        154 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 24) | (((d >> 24) & 0xff) << 56),
        155 => (d & 0xffff) | (((d >> 16) & 0xffff) << 24) | (((d >> 32) & 0xff) << 56),
        156 => ((d & 0xffffff) << 16) | (((d >> 24) & 0xff) << 56),
        157 => (d & 0xff) | (((d >> 8) & 0xffffff) << 16) | (((d >> 32) & 0xff) << 56),
        158 => ((d & 0xffffffff) << 8) | (((d >> 32) & 0xff) << 56),
        159 => (d & 0xffffffffff) | (((d >> 40) & 0xff) << 56),
        160 => ((d & 0xff) << 40) | (((d >> 8) & 0xff) << 56),
        161 => (d & 0xff) | (((d >> 8) & 0xff) << 40) | (((d >> 16) & 0xff) << 56),
        162 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 40) | (((d >> 16) & 0xff) << 56),
        163 => (d & 0xffff) | (((d >> 16) & 0xff) << 40) | (((d >> 24) & 0xff) << 56),
        164 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 40) | (((d >> 16) & 0xff) << 56),
        165 => {
            (d & 0xff)
                | (((d >> 8) & 0xff) << 16)
                | (((d >> 16) & 0xff) << 40)
                | (((d >> 24) & 0xff) << 56)
        }
        166 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 40) | (((d >> 24) & 0xff) << 56),
        167 => (d & 0xffffff) | (((d >> 24) & 0xff) << 40) | (((d >> 32) & 0xff) << 56),
        168 => ((d & 0xff) << 24) | (((d >> 8) & 0xff) << 40) | (((d >> 16) & 0xff) << 56),
        169 => {
            (d & 0xff)
                | (((d >> 8) & 0xff) << 24)
                | (((d >> 16) & 0xff) << 40)
                | (((d >> 24) & 0xff) << 56)
        }
        170 => {
            ((d & 0xff) << 8)
                | (((d >> 8) & 0xff) << 24)
                | (((d >> 16) & 0xff) << 40)
                | (((d >> 24) & 0xff) << 56)
        }
        171 => {
            (d & 0xffff)
                | (((d >> 16) & 0xff) << 24)
                | (((d >> 24) & 0xff) << 40)
                | (((d >> 32) & 0xff) << 56)
        }
        172 => ((d & 0xffff) << 16) | (((d >> 16) & 0xff) << 40) | (((d >> 24) & 0xff) << 56),
        173 => {
            (d & 0xff)
                | (((d >> 8) & 0xffff) << 16)
                | (((d >> 24) & 0xff) << 40)
                | (((d >> 32) & 0xff) << 56)
        }
        174 => ((d & 0xffffff) << 8) | (((d >> 24) & 0xff) << 40) | (((d >> 32) & 0xff) << 56),
        175 => (d & 0xffffffff) | (((d >> 32) & 0xff) << 40) | (((d >> 40) & 0xff) << 56),
        176 => ((d & 0xffff) << 32) | (((d >> 16) & 0xff) << 56),
        177 => (d & 0xff) | (((d >> 8) & 0xffff) << 32) | (((d >> 24) & 0xff) << 56),
        178 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 32) | (((d >> 24) & 0xff) << 56),
        179 => (d & 0xffff) | (((d >> 16) & 0xffff) << 32) | (((d >> 32) & 0xff) << 56),
        180 => ((d & 0xff) << 16) | (((d >> 8) & 0xffff) << 32) | (((d >> 24) & 0xff) << 56),
        181 => {
            (d & 0xff)
                | (((d >> 8) & 0xff) << 16)
                | (((d >> 16) & 0xffff) << 32)
                | (((d >> 32) & 0xff) << 56)
        }
        182 => ((d & 0xffff) << 8) | (((d >> 16) & 0xffff) << 32) | (((d >> 32) & 0xff) << 56),
        183 => (d & 0xffffff) | (((d >> 24) & 0xffff) << 32) | (((d >> 40) & 0xff) << 56),
        184 => ((d & 0xffffff) << 24) | (((d >> 24) & 0xff) << 56),
        185 => (d & 0xff) | (((d >> 8) & 0xffffff) << 24) | (((d >> 32) & 0xff) << 56),
        186 => ((d & 0xff) << 8) | (((d >> 8) & 0xffffff) << 24) | (((d >> 32) & 0xff) << 56),
        187 => (d & 0xffff) | (((d >> 16) & 0xffffff) << 24) | (((d >> 40) & 0xff) << 56),
        188 => ((d & 0xffffffff) << 16) | (((d >> 32) & 0xff) << 56),
        189 => (d & 0xff) | (((d >> 8) & 0xffffffff) << 16) | (((d >> 40) & 0xff) << 56),
        190 => ((d & 0xffffffffff) << 8) | (((d >> 40) & 0xff) << 56),
        191 => (d & 0xffffffffffff) | (((d >> 48) & 0xff) << 56),
        192 => (d & 0xffff) << 48,
        193 => (d & 0xff) | (((d >> 8) & 0xffff) << 48),
        194 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 48),
        195 => (d & 0xffff) | (((d >> 16) & 0xffff) << 48),
        196 => ((d & 0xff) << 16) | (((d >> 8) & 0xffff) << 48),
        197 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xffff) << 48),
        198 => ((d & 0xffff) << 8) | (((d >> 16) & 0xffff) << 48),
        199 => (d & 0xffffff) | (((d >> 24) & 0xffff) << 48),
        200 => ((d & 0xff) << 24) | (((d >> 8) & 0xffff) << 48),
        201 => (d & 0xff) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xffff) << 48),
        202 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xffff) << 48),
        203 => (d & 0xffff) | (((d >> 16) & 0xff) << 24) | (((d >> 24) & 0xffff) << 48),
        204 => ((d & 0xffff) << 16) | (((d >> 16) & 0xffff) << 48),
        205 => (d & 0xff) | (((d >> 8) & 0xffff) << 16) | (((d >> 24) & 0xffff) << 48),
        206 => ((d & 0xffffff) << 8) | (((d >> 24) & 0xffff) << 48),
        207 => (d & 0xffffffff) | (((d >> 32) & 0xffff) << 48),
        208 => ((d & 0xff) << 32) | (((d >> 8) & 0xffff) << 48),
        209 => (d & 0xff) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xffff) << 48),
        210 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xffff) << 48),
        211 => (d & 0xffff) | (((d >> 16) & 0xff) << 32) | (((d >> 24) & 0xffff) << 48),
        212 => ((d & 0xff) << 16) | (((d >> 8) & 0xff) << 32) | (((d >> 16) & 0xffff) << 48),
        213 => {
            (d & 0xff)
                | (((d >> 8) & 0xff) << 16)
                | (((d >> 16) & 0xff) << 32)
                | (((d >> 24) & 0xffff) << 48)
        }
        214 => ((d & 0xffff) << 8) | (((d >> 16) & 0xff) << 32) | (((d >> 24) & 0xffff) << 48),
        215 => (d & 0xffffff) | (((d >> 24) & 0xff) << 32) | (((d >> 32) & 0xffff) << 48),
        216 => ((d & 0xffff) << 24) | (((d >> 16) & 0xffff) << 48),
        217 => (d & 0xff) | (((d >> 8) & 0xffff) << 24) | (((d >> 24) & 0xffff) << 48),
        218 => ((d & 0xff) << 8) | (((d >> 8) & 0xffff) << 24) | (((d >> 24) & 0xffff) << 48),
        219 => (d & 0xffff) | (((d >> 16) & 0xffff) << 24) | (((d >> 32) & 0xffff) << 48),
        220 => ((d & 0xffffff) << 16) | (((d >> 24) & 0xffff) << 48),
        221 => (d & 0xff) | (((d >> 8) & 0xffffff) << 16) | (((d >> 32) & 0xffff) << 48),
        222 => ((d & 0xffffffff) << 8) | (((d >> 32) & 0xffff) << 48),
        223 => (d & 0xffffffffff) | (((d >> 40) & 0xffff) << 48),
        224 => (d & 0xffffff) << 40,
        225 => (d & 0xff) | (((d >> 8) & 0xffffff) << 40),
        226 => ((d & 0xff) << 8) | (((d >> 8) & 0xffffff) << 40),
        227 => (d & 0xffff) | (((d >> 16) & 0xffffff) << 40),
        228 => ((d & 0xff) << 16) | (((d >> 8) & 0xffffff) << 40),
        229 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xffffff) << 40),
        230 => ((d & 0xffff) << 8) | (((d >> 16) & 0xffffff) << 40),
        231 => (d & 0xffffff) | (((d >> 24) & 0xffffff) << 40),
        232 => ((d & 0xff) << 24) | (((d >> 8) & 0xffffff) << 40),
        233 => (d & 0xff) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xffffff) << 40),
        234 => ((d & 0xff) << 8) | (((d >> 8) & 0xff) << 24) | (((d >> 16) & 0xffffff) << 40),
        235 => (d & 0xffff) | (((d >> 16) & 0xff) << 24) | (((d >> 24) & 0xffffff) << 40),
        236 => ((d & 0xffff) << 16) | (((d >> 16) & 0xffffff) << 40),
        237 => (d & 0xff) | (((d >> 8) & 0xffff) << 16) | (((d >> 24) & 0xffffff) << 40),
        238 => ((d & 0xffffff) << 8) | (((d >> 24) & 0xffffff) << 40),
        239 => (d & 0xffffffff) | (((d >> 32) & 0xffffff) << 40),
        240 => (d & 0xffffffff) << 32,
        241 => (d & 0xff) | (((d >> 8) & 0xffffffff) << 32),
        242 => ((d & 0xff) << 8) | (((d >> 8) & 0xffffffff) << 32),
        243 => (d & 0xffff) | (((d >> 16) & 0xffffffff) << 32),
        244 => ((d & 0xff) << 16) | (((d >> 8) & 0xffffffff) << 32),
        245 => (d & 0xff) | (((d >> 8) & 0xff) << 16) | (((d >> 16) & 0xffffffff) << 32),
        246 => ((d & 0xffff) << 8) | (((d >> 16) & 0xffffffff) << 32),
        247 => (d & 0xffffff) | (((d >> 24) & 0xffffffff) << 32),
        248 => (d & 0xffffffffff) << 24,
        249 => (d & 0xff) | (((d >> 8) & 0xffffffffff) << 24),
        250 => ((d & 0xff) << 8) | (((d >> 8) & 0xffffffffff) << 24),
        251 => (d & 0xffff) | (((d >> 16) & 0xffffffffff) << 24),
        252 => (d & 0xffffffffffff) << 16,
        253 => (d & 0xff) | (((d >> 8) & 0xffffffffffff) << 16),
        254 => (d & 0xffffffffffffff) << 8,
        255 => d,
    }
}
