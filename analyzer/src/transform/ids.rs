//! Event and visitor ids as integers: read from their hex digits once, when a row is coded,
//! eight digits to a word, and kept as numbers (in the same order as their text).

/// 128-bit value of a validated lowercase UUID (hex digits, hyphens skipped).
pub fn uuid_bits(id: &str) -> u128 {
    let b = id.as_bytes();
    // The hyphenated form, eight digits at a time (a tenth of a cold month went to these
    // two functions digit by digit).
    if b.len() == 36 && [b[8], b[13], b[18], b[23]] == [b'-'; 4] {
        let four = |at: usize| {
            let digits = &b[at..at + 4];
            let low = u32::from_be_bytes(digits.try_into().expect("four bytes"));
            // Behind four '0's: the same eight-digit word, read without a copy.
            u128::from(hex_word(0x3030_3030 << 32 | u64::from(low), digits))
        };
        return u128::from(hex8(&b[..8])) << 96
            | four(9) << 80
            | four(14) << 64
            | four(19) << 48
            | u128::from(hex8(&b[24..32])) << 16
            | four(32);
    }
    b.iter()
        .filter(|&&b| b != b'-')
        .fold(0u128, |acc, &b| (acc << 4) | u128::from(hex(b)))
}

/// 64-bit value of a validated 16-hex-digit visitor id.
pub fn visitor_bits(v: &str) -> u64 {
    let b = v.as_bytes();
    if b.len() == 16 {
        return u64::from(hex8(&b[..8])) << 32 | u64::from(hex8(&b[8..]));
    }
    b.iter()
        .fold(0u64, |acc, &b| (acc << 4) | u64::from(hex(b)))
}

/// The value of eight hex digits (either case), all at once in one 64-bit word.
#[inline]
fn hex8(digits: &[u8]) -> u32 {
    hex_word(
        u64::from_be_bytes(digits.try_into().expect("eight bytes")),
        digits,
    )
}

/// The value of the eight digits in `v` (the first in its top byte), which are `digits` or
/// `digits` behind '0's: when they are not all hex digits, [`hex8_slow`] of `digits`.
#[inline]
fn hex_word(v: u64, digits: &[u8]) -> u32 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Each byte's top bit: whether it is above `n` (bytes below 0x80 cannot carry).
    let above = |n: u8| (v + ONES * u64::from(0x7f - n)) & HIGH;
    let hex = (above(b'0' - 1) & !above(b'9'))
        | (above(b'a' - 1) & !above(b'f'))
        | (above(b'A' - 1) & !above(b'F'));
    if v & HIGH != 0 || hex != HIGH {
        return hex8_slow(digits);
    }
    // '0'-'9' keep their low nibble; 'a'-'f' and 'A'-'F' (bit 6 set) add 9 to theirs.
    let letters = (v & 0x4040_4040_4040_4040) >> 6;
    let mut n = (v & 0x0f0f_0f0f_0f0f_0f0f) + letters * 9;
    // Pack the eight nibbles (one per byte, the first digit in the top byte) together.
    n = (n | n >> 4) & 0x00ff_00ff_00ff_00ff;
    n = (n | n >> 8) & 0x0000_ffff_0000_ffff;
    n = (n | n >> 16) & 0x0000_0000_ffff_ffff;
    n as u32
}

/// [`hex8`] digit by digit, for what is not all hex digits.
#[cold]
fn hex8_slow(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0u32, |acc, &b| (acc << 4) | u32::from(hex(b)))
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// The 16 lowercase hex digits of a visitor id.
pub fn visitor_text(v: u64) -> String {
    format!("{v:016x}")
}

/// The lowercase hyphenated form of an event id (the rule is `pagehit`'s).
pub use pagehit::rules::uuid_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_a_word_at_a_time_equal_digit_by_digit() {
        let slow = |s: &str| {
            s.bytes()
                .filter(|&b| b != b'-')
                .fold(0u128, |acc, b| (acc << 4) | u128::from(hex(b)))
        };
        let digits = b"0123456789abcdefABCDEF";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            digits[(x % digits.len() as u64) as usize] as char
        };
        for _ in 0..2000 {
            let mut id: String = (0..36).map(|_| next()).collect();
            for at in [8, 13, 18, 23] {
                id.replace_range(at..at + 1, "-");
            }
            assert_eq!(uuid_bits(&id), slow(&id), "{id}");
            let visitor: String = (0..16).map(|_| next()).collect();
            assert_eq!(
                u128::from(visitor_bits(&visitor)),
                slow(&visitor),
                "{visitor}"
            );
        }
        // Not hex: the digit-by-digit rule (0 for any other byte), whatever the length.
        let slow_visitor = |s: &str| {
            s.bytes()
                .fold(0u64, |acc, b| (acc << 4) | u64::from(hex(b)))
        };
        for odd in [
            "0123456789abcdeg",
            "zz",
            "01936b2e-1f00-7abc-8def-0123456789a!",
            "",
        ] {
            assert_eq!(visitor_bits(odd), slow_visitor(odd), "{odd}");
            assert_eq!(uuid_bits(odd), slow(odd), "{odd}");
        }
    }

    #[test]
    fn ids_keep_their_order_as_numbers() {
        let a = "01936b2e-1f00-7abc-8def-0123456789ab";
        let b = "01936b2e-1f00-7abc-8def-0123456789ac";
        assert!(uuid_bits(a) < uuid_bits(b));
        assert_eq!(uuid_text(uuid_bits(a)), a);
        assert_eq!(
            visitor_text(visitor_bits("00ff0123456789ab")),
            "00ff0123456789ab"
        );
        assert!(visitor_bits("0fffffffffffffff") < visitor_bits("f000000000000000"));
    }
}
