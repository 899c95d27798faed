//! Property tests: any valid hit survives JSON -> decode -> CSV -> parse unchanged.

use pagehit::{csv, csv_header, time, Limits, PageHit, COLUMNS};
use proptest::prelude::*;

/// Free text with the characters that break naive CSV: commas, quotes, CR, LF, spaces, unicode.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just(",".to_string()),
        Just("\"".to_string()),
        Just("\r\n".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just(" ".to_string()),
        Just("é".to_string()),
        Just("日本".to_string()),
        Just("🚀".to_string()),
        "[a-zA-Z0-9/._~%=&?-]{1,8}",
        any::<char>().prop_map(|c| c.to_string()),
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
    ) -> PageHit {
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
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_csv_parse_round_trip(hits in prop::collection::vec(hit(), 1..6)) {
        let mut file = csv_header();
        for hit in &hits {
            prop_assert_eq!(hit.validate(), Ok(()));
            let decoded = PageHit::from_json(hit.to_json().as_bytes()).unwrap();
            prop_assert_eq!(&decoded, hit);
            decoded.write_csv_row(&mut file);
        }
        let rows = csv::parse(&file).unwrap();
        prop_assert_eq!(rows.len(), hits.len() + 1);
        prop_assert_eq!(&rows[0], &COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        for (row, hit) in rows[1..].iter().zip(&hits) {
            prop_assert_eq!(&PageHit::from_csv_fields(row).unwrap(), hit);
        }
    }

    #[test]
    fn any_field_text_round_trips_through_csv(fields in prop::collection::vec(text(30), 1..20)) {
        let mut out = String::new();
        csv::write_record(&mut out, fields.iter().map(String::as_str));
        let parsed = csv::parse(&out).unwrap();
        prop_assert_eq!(parsed, vec![fields]);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = PageHit::from_json(&bytes);
    }
}
