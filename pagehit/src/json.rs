//! The stream record's JSON decoded without copying: fields borrow from the record's bytes
//! (a field with a JSON escape in it is the only one that allocates). For readers that look at
//! every record and keep almost nothing of it, such as the dashboard's live window; the
//! decoding and the rules are the same as [`crate::PageHit::from_json`]'s.

use crate::{HitRef, RecordError, PAGEVIEW};
use serde::Deserialize;
use std::borrow::Cow;

/// A stream record decoded with borrowed fields; [`JsonHit::view`] validates nothing, use
/// [`decode`] to get a valid one.
#[derive(Debug, Deserialize)]
pub struct JsonHit<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    ts: Cow<'a, str>,
    #[serde(borrow)]
    host: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    status: u16,
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    visitor: Cow<'a, str>,
    #[serde(borrow)]
    referrer: Cow<'a, str>,
    #[serde(borrow)]
    country: Cow<'a, str>,
    #[serde(borrow)]
    user_agent: Cow<'a, str>,
    bot: bool,
    origin_ms: u32,
    // Version 2: absent in version-1 records, which take the defaults.
    #[serde(borrow, default = "pageview")]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    utm_source: Cow<'a, str>,
    #[serde(borrow, default)]
    utm_medium: Cow<'a, str>,
    #[serde(borrow, default)]
    utm_campaign: Cow<'a, str>,
    #[serde(borrow, default)]
    utm_term: Cow<'a, str>,
    #[serde(borrow, default)]
    utm_content: Cow<'a, str>,
}

fn pageview() -> Cow<'static, str> {
    Cow::Borrowed(PAGEVIEW)
}

impl JsonHit<'_> {
    /// The record as borrowed fields.
    pub fn view(&self) -> HitRef<'_> {
        HitRef {
            event_id: &self.event_id,
            ts: &self.ts,
            host: &self.host,
            path: &self.path,
            action: &self.action,
            method: &self.method,
            status: self.status,
            user: &self.user,
            visitor: &self.visitor,
            referrer: &self.referrer,
            country: &self.country,
            user_agent: &self.user_agent,
            bot: self.bot,
            origin_ms: self.origin_ms,
            event: &self.event,
            utm_source: &self.utm_source,
            utm_medium: &self.utm_medium,
            utm_campaign: &self.utm_campaign,
            utm_term: &self.utm_term,
            utm_content: &self.utm_content,
        }
    }
}

/// Decodes a stream record and validates it by [`HitRef::validate`]; returns it with its `ts`
/// in milliseconds since the Unix epoch.
pub fn decode(bytes: &[u8]) -> Result<(JsonHit<'_>, i64), RecordError> {
    let hit: JsonHit<'_> =
        serde_json::from_slice(bytes).map_err(|e| RecordError::Json(e.to_string()))?;
    let ts_ms = hit.view().validate()?;
    Ok((hit, ts_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PageHit;

    fn sample() -> PageHit {
        PageHit {
            event_id: "01936b2e-1f00-7abc-8def-0000000000ff".into(),
            ts: "2026-12-04T10:00:00.250Z".into(),
            host: "shop.example".into(),
            path: "/a \"quoted\" \\ path/café".into(),
            action: "a".into(),
            method: "GET".into(),
            status: 200,
            visitor: "0123456789abcdef".into(),
            user_agent: "Mozilla/5.0".into(),
            utm_campaign: "spring".into(),
            ..PageHit::default()
        }
    }

    #[test]
    fn decodes_what_from_json_decodes() {
        let hit = sample();
        let json = hit.to_json();
        let (borrowed, ts) = decode(json.as_bytes()).unwrap();
        assert_eq!(borrowed.view().to_owned_hit(), hit);
        assert_eq!(ts, crate::time::parse_ts(&hit.ts).unwrap());
        assert!(
            matches!(borrowed.path, Cow::Owned(_)),
            "an escaped field is unescaped into its own string"
        );
        assert!(matches!(borrowed.host, Cow::Borrowed(_)));
    }

    #[test]
    fn version_one_records_take_the_defaults() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        for key in &crate::COLUMNS[crate::V1_COLUMNS..] {
            v.as_object_mut().unwrap().remove(*key);
        }
        let bytes = v.to_string();
        let (hit, _) = decode(bytes.as_bytes()).unwrap();
        assert_eq!(hit.view().event, PAGEVIEW);
        assert_eq!(hit.view().utm_campaign, "");
    }

    #[test]
    fn refuses_what_from_json_refuses() {
        let bad_visitor = PageHit {
            visitor: "XYZ".into(),
            ..sample()
        }
        .to_json();
        for bytes in [
            b"not json".as_slice(),
            b"{}".as_slice(),
            bad_visitor.as_bytes(),
        ] {
            let ours = decode(bytes).map(|_| ()).unwrap_err();
            let theirs = PageHit::from_json(bytes).map(|_| ()).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&ours),
                std::mem::discriminant(&theirs)
            );
        }
    }
}
