//! Property tests: any valid hit survives JSON -> decode -> CSV -> read unchanged, and no input
//! makes the reader panic or grow.

use pagehit::csv::{FileReader, MAX_ROW};
use pagehit::{csv_header, time, Limits, PageHit};
use proptest::prelude::*;

/// Free text with the characters that break naive CSV: commas, quotes, spaces, unicode (but no
/// control characters: a valid hit has none).
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just(",".to_string()),
        Just("\"".to_string()),
        Just("\"\"".to_string()),
        Just(" ".to_string()),
        Just("é".to_string()),
        Just("日本".to_string()),
        Just("🚀".to_string()),
        Just("\u{2028}".to_string()),
        "[a-zA-Z0-9/._~%=&?-]{1,8}",
        any::<char>()
            .prop_filter("no control characters", |c| !c.is_control())
            .prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(pieces, 0..max_chars).prop_map(|v| v.concat())
}

fn capped(max_chars: usize, max_bytes: usize) -> impl Strategy<Value = String> {
    text(max_chars).prop_map(move |s| Limits::clamp(&s, max_bytes).to_string())
}

prop_compose! {
    fn hit()(
        uuid in "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        ms in 0i64..4_102_444_800_000,
        host in "[a-z0-9.-]{1,40}(:[0-9]{1,5})?",
        path in capped(40, Limits::PATH - 1),
        action in "[a-z0-9_-]{1,20}",
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        status in 100u16..=599,
        user in capped(20, Limits::USER),
        visitor in "[0-9a-f]{16}",
        referrer in capped(40, Limits::REFERRER),
        country in "([A-Z]{2})?",
        user_agent in capped(40, Limits::USER_AGENT),
        bot in any::<bool>(),
        origin_ms in any::<u32>(),
        event in "pageview|[A-Za-z0-9_.:-]{1,64}",
        utm in prop::array::uniform5(capped(10, Limits::UTM)),
    ) -> PageHit {
        let [utm_source, utm_medium, utm_campaign, utm_term, utm_content] = utm;
        PageHit {
            event_id: uuid,
            ts: time::format_ts(ms),
            host,
            path: format!("/{path}"),
            action,
            method: method.to_string(),
            status,
            user,
            visitor,
            referrer,
            country,
            user_agent,
            bot,
            origin_ms,
            event,
            utm_source,
            utm_medium,
            utm_campaign,
            utm_term,
            utm_content,
        }
    }
}

/// Reads `bytes` through a [`FileReader`] in blocks of `block` bytes.
fn read(bytes: &[u8], block: usize) -> (Vec<PageHit>, FileReader, usize) {
    let mut reader = FileReader::new();
    let mut hits = Vec::new();
    let mut buf = Vec::new();
    let mut most = 0;
    let mut fed = 0;
    loop {
        let take = block.min(bytes.len() - fed);
        buf.extend_from_slice(&bytes[fed..fed + take]);
        fed += take;
        most = most.max(buf.len());
        let eof = fed == bytes.len();
        match reader.feed(&buf, eof, |r| hits.push(r.hit.to_owned_hit())) {
            Ok(used) => drop(buf.drain(..used)),
            Err(_) => break,
        }
        if eof {
            break;
        }
    }
    (hits, reader, most)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_csv_read_round_trip(hits in prop::collection::vec(hit(), 1..6), block in 1usize..300) {
        let mut file = csv_header();
        for hit in &hits {
            prop_assert_eq!(hit.validate(), Ok(()));
            let decoded = PageHit::from_json(hit.to_json().as_bytes()).unwrap();
            prop_assert_eq!(&decoded, hit);
            decoded.write_csv_row(&mut file);
        }
        let (back, reader, _) = read(file.as_bytes(), block);
        prop_assert_eq!(reader.malformed, 0, "{:?}", reader.first_malformed);
        prop_assert_eq!(back, hits);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = PageHit::from_json(&bytes);
    }

    #[test]
    fn reading_arbitrary_bytes_never_panics_and_stays_bounded(
        body in prop::collection::vec(any::<u8>(), 0..5000),
        block in 1usize..2000,
    ) {
        let mut file = csv_header().into_bytes();
        file.extend_from_slice(&body);
        let (hits, reader, most) = read(&file, block);
        prop_assert!(most < MAX_ROW + block);
        prop_assert!(hits.len() as u64 + reader.malformed <= body.split(|&b| b == b'\n').count() as u64);
    }
}
