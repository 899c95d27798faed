use super::*;
use crate::{csv_header, PageHit};

proptest::proptest! {
    /// The in-place split of quoted lines agrees with csv-core wherever it answers.
    #[test]
    fn quoted_fast_path_agrees_with_csv_core(line in "[a,\"]{0,24}") {
        let line = line.as_bytes();
        // What `Splitter::split` hands it: lines with quotes, an even number of them.
        let quotes = line.iter().filter(|&&b| b == b'"').count();
        proptest::prop_assume!(quotes > 0 && quotes % 2 == 0);
        let mut fast = Vec::new();
        if split_quoted_without_escapes(line, &mut fast) {
            let fast: Vec<&[u8]> = fast.iter().map(|&(s, e)| &line[s..e]).collect();
            let mut core = csv_core::Reader::new();
            let (mut out, mut ends) = (vec![0; 64], vec![0; 64]);
            let (_, _, nout, nend) = core.read_record(line, &mut out, &mut ends);
            let (_, _, more_out, more_end) =
                core.read_record(&[], &mut out[nout..], &mut ends[nend..]);
            let ends = &ends[..nend + more_end];
            let mut start = 0;
            let slow: Vec<&[u8]> = ends.iter().map(|&e| { let f = &out[start..e]; start = e; f }).collect();
            let _ = more_out;
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}

proptest::proptest! {
    /// A field is quoted exactly when the `char` pattern said so, multi-byte text included.
    #[test]
    fn fields_are_quoted_as_the_char_pattern_said(field in "[a ,\"\r\né日\u{2028}]{0,12}") {
        let mut out = String::new();
        write_field(&mut out, &field);
        let quoted = field.contains([',', '"', '\r', '\n'])
            || field.starts_with(' ')
            || field.ends_with(' ');
        proptest::prop_assert_eq!(out.starts_with('"') && out.len() > field.len(), quoted);
    }
}

fn encode(fields: &[&str]) -> String {
    let mut out = String::new();
    write_record(&mut out, fields.iter().copied());
    out
}

fn hit(n: u32) -> PageHit {
    PageHit {
        event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
        ts: "2026-11-25T10:00:00.000Z".into(),
        host: "shop.example".into(),
        path: format!("/p/{n}"),
        action: "p".into(),
        method: "GET".into(),
        status: 200,
        visitor: "0123456789abcdef".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit (KHTML, like Gecko)".into(),
        ..PageHit::default()
    }
}

fn row(h: &PageHit) -> String {
    let mut s = String::new();
    h.write_csv_row(&mut s);
    s
}

/// Reads a whole file in blocks of `block` bytes, like a caller would.
fn read_blocks(bytes: &[u8], block: usize) -> (Result<Vec<PageHit>, HeaderError>, FileReader) {
    let mut reader = FileReader::new();
    let mut hits = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        let take = block.min(bytes.len() - fed);
        buf.extend_from_slice(&bytes[fed..fed + take]);
        fed += take;
        let eof = fed == bytes.len();
        match reader.feed(&buf, eof, |r| hits.push(r.hit.to_owned_hit())) {
            Ok(used) => {
                buf.drain(..used);
            }
            Err(e) => return (Err(e), reader),
        }
        assert!(buf.len() < MAX_ROW + block, "the buffer stays bounded");
        if eof {
            break;
        }
    }
    (Ok(hits), reader)
}

#[test]
fn quotes_only_when_needed() {
    assert_eq!(encode(&["a", "b c", ""]), "a,b c,\n");
    assert_eq!(
        encode(&["a,b", "say \"hi\"", "x\r\ny", " lead"]),
        "\"a,b\",\"say \"\"hi\"\"\",\"x\r\ny\",\" lead\"\n"
    );
}

#[test]
fn written_hits_read_back_in_any_block_size() {
    let mut file = csv_header();
    let mut want = Vec::new();
    for n in 0..50 {
        let mut h = hit(n);
        h.user = format!("bob, \"the builder\" {n}");
        h.path = format!("/a,b\"c/café/{n}");
        h.utm_campaign = " lead and trail ".into();
        file.push_str(&row(&h));
        want.push(h);
    }
    for block in [1, 7, 64, 4096, 1 << 20] {
        let (hits, reader) = read_blocks(file.as_bytes(), block);
        assert_eq!(hits.unwrap(), want, "block {block}");
        assert_eq!((reader.rows, reader.malformed), (50, 0));
    }
}

#[test]
fn columns_are_found_by_name_in_any_version_and_order() {
    // Version 1: 14 columns, so event and utm_* take their defaults.
    let mut h = hit(1);
    h.user_agent = "Mozilla/5.0 Firefox/140.0".into(); // no comma: the test splits rows

    let v1_header = COLUMNS[..V1_COLUMNS].join(",");
    let full = row(&h);
    let v1_row: Vec<&str> = full.trim_end().split(',').take(V1_COLUMNS).collect();
    let file = format!("{v1_header}\n{}\n", v1_row.join(","));
    let (hits, _) = read_blocks(file.as_bytes(), 4096);
    assert_eq!(hits.unwrap(), vec![h.clone()]);

    // A newer writer appended columns: they are ignored.
    let file = format!(
        "{},later_a,later_b\n{},x,y\n",
        COLUMNS.join(","),
        full.trim_end()
    );
    let (hits, _) = read_blocks(file.as_bytes(), 4096);
    assert_eq!(hits.unwrap(), vec![h.clone()]);

    // Swapped columns are read by name.
    let mut names: Vec<&str> = COLUMNS.to_vec();
    let mut values: Vec<&str> = full.trim_end().split(',').collect();
    names.swap(2, 3);
    values.swap(2, 3);
    let file = format!("{}\r\n{}\r\n", names.join(","), values.join(","));
    let (hits, _) = read_blocks(file.as_bytes(), 4096);
    assert_eq!(hits.unwrap(), vec![h.clone()]);

    // A byte-order mark before the header is not part of the first name.
    let file = format!("\u{feff}{}{full}", csv_header());
    assert_eq!(read_blocks(file.as_bytes(), 4096).0.unwrap(), vec![h]);
}

#[test]
fn files_without_a_known_header_are_refused_whole() {
    let body = row(&hit(1));
    let (res, reader) = read_blocks(format!("{body}{body}").as_bytes(), 4096);
    let err = res.unwrap_err();
    assert!(
        matches!(&err, HeaderError::Missing(m) if m.len() == V1_COLUMNS),
        "{err}"
    );
    assert!(err.to_string().contains("not a page-hit header"), "{err}");
    assert_eq!((reader.rows, reader.malformed), (0, 0));

    let dup = format!("{},ts\n", COLUMNS.join(","));
    assert_eq!(
        read_blocks(dup.as_bytes(), 4096).0.unwrap_err(),
        HeaderError::Duplicate("ts".into())
    );
    let partial = "event_id,ts,host\n";
    let err = read_blocks(partial.as_bytes(), 4096).0.unwrap_err();
    assert!(err.to_string().contains("no path, action"), "{err}");
    // An empty file has no rows and no header problem.
    let (res, reader) = read_blocks(b"", 4096);
    assert_eq!((res.unwrap().len(), reader.malformed), (0, 0));
}

#[test]
fn bad_lines_are_counted_and_reading_goes_on_at_the_next_line() {
    let good = row(&hit(1));
    let mut file = csv_header();
    file.push_str(&good);
    // Lines 3 to 8 and 10 and 11 are malformed (the header is line 1).
    file.push_str("01936b2e-1f00-7abc-8def-000000000002,\"unterminated,quote\n");
    file.push_str(&good.replacen(",200,", ",2x0,", 1)); // status
    file.push_str(&good.replacen(",false,", ",yes,", 1)); // bot
    file.push_str("only,three,fields\n");
    file.push_str(&good.replacen("/p/1", "/p/1\r", 1)); // a CR inside a field
    file.push_str(&good.replacen("GET", "get", 1)); // a rule of validation
    file.push('\n'); // line 9: a blank line is no row
    let mut bytes = file.into_bytes();
    let mut bad_utf8 = row(&hit(3)).into_bytes();
    bad_utf8[60] = 0xff;
    bytes.extend_from_slice(&bad_utf8);
    bytes.extend_from_slice(format!("/x{}\n", "y".repeat(1 << 20)).as_bytes()); // 1 MiB
    bytes.extend_from_slice(row(&hit(4)).as_bytes());
    bytes.extend_from_slice(row(&hit(5)).trim_end().as_bytes()); // no final line end
    for block in [3, 1000, 65536, 4 << 20] {
        let (hits, reader) = read_blocks(&bytes, block);
        let paths: Vec<String> = hits.unwrap().into_iter().map(|h| h.path).collect();
        assert_eq!(paths, ["/p/1", "/p/4", "/p/5"], "block {block}");
        assert_eq!(
            reader.malformed, 8,
            "block {block}: {:?}",
            reader.first_malformed
        );
        assert_eq!(
            reader.first_malformed,
            Some((3, RowError::UnterminatedQuote))
        );
    }
}

#[test]
fn row_errors_say_what_is_wrong() {
    let mut r = RowReader::new(Header::current());
    let good = row(&hit(1));
    let line = good.trim_end().as_bytes();
    assert!(r.read(line).is_ok());
    let cases: [(&str, RowError); 3] = [
        (
            "a,b",
            RowError::FieldCount {
                expected: COLUMNS.len(),
                found: 2,
            },
        ),
        ("\"a", RowError::UnterminatedQuote),
        (
            &good.trim_end().replacen(",200,", ",70000,", 1),
            RowError::NotAValue {
                field: Field::Status,
                expected: "an HTTP status",
            },
        ),
    ];
    for (line, want) in cases {
        assert_eq!(r.read(line.as_bytes()).unwrap_err(), want, "{line}");
    }
    let ctrl = good.trim_end().replacen("/p/1", "/p/\u{1b}[31m", 1);
    assert_eq!(
        r.read(ctrl.as_bytes()).unwrap_err().to_string(),
        "path holds a control character"
    );
}
