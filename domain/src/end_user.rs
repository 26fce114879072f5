//! Who an integration belongs to in the calling product, and the tags that
//! sort the fleet (DESIGN.md, "Connect links"): an integration connected
//! through a connect link carries its customer's id and name; tags (string to
//! string, e.g. `tenant=acme`) filter listings and confine API keys. The
//! rules on their size live here, so the service API, the settings form and
//! storage refuse the same things with the same sentences.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An end user's id: 1 to this many characters.
pub const MAX_END_USER_ID_CHARS: usize = 200;
/// An end user's display name: up to this many characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// At most this many tags on one integration, session or key.
pub const MAX_TAGS: usize = 20;
/// A tag's key and its value: 1 to this many characters each.
pub const MAX_TAG_CHARS: usize = 64;

/// The customer of the calling product an integration belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndUser {
    /// The customer's id in the calling product.
    pub id: String,
    pub display_name: Option<String>,
}

/// Tags, ordered by key (so the stored JSON and every view are stable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Tags(pub BTreeMap<String, String>);

impl Tags {
    /// Checks every rule: how many, how long, what characters.
    pub fn checked(pairs: BTreeMap<String, String>) -> Result<Tags, String> {
        if pairs.len() > MAX_TAGS {
            return Err(format!("At most {MAX_TAGS} tags are allowed."));
        }
        for (key, value) in &pairs {
            check_tag_key(key)?;
            check_tag_value(key, value)?;
        }
        Ok(Tags(pairs))
    }

    /// Tags written `key=value`, separated by commas or new lines (the
    /// settings form), checked as [`Tags::checked`] does.
    pub fn parse_list(text: &str) -> Result<Tags, String> {
        let mut pairs = BTreeMap::new();
        for item in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (key, value) = item.split_once('=').ok_or_else(|| {
                format!(
                    "Write each tag as key=value (\"{}\" has no =).",
                    clipped(item)
                )
            })?;
            let (key, value) = (key.trim(), value.trim());
            if pairs.insert(key.to_owned(), value.to_owned()).is_some() {
                return Err(format!("The tag \"{}\" is given twice.", clipped(key)));
            }
        }
        Tags::checked(pairs)
    }

    /// One filter written `key:value` (`GET /v1/integrations?tag=..`).
    pub fn parse_filter(text: &str) -> Result<(String, String), String> {
        let (key, value) = text
            .split_once(':')
            .ok_or_else(|| "A tag filter is written key:value, e.g. tag=tenant:acme.".to_owned())?;
        check_tag_key(key)?;
        check_tag_value(key, value)?;
        Ok((key.to_owned(), value.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every tag of `other` is one of these, with the same value.
    pub fn includes(&self, other: &Tags) -> bool {
        other.0.iter().all(|(k, v)| self.0.get(k) == Some(v))
    }

    /// These tags with `over`'s laid on top (a key in both takes `over`'s value).
    pub fn merged(&self, over: &Tags) -> Tags {
        let mut all = self.0.clone();
        all.extend(over.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Tags(all)
    }

    /// `key=value, ...` (the settings page, the account log).
    pub fn written(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The stored form: a JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    /// From the stored form; a value that is not a JSON object of strings
    /// reads as no tags (storage writes only [`Tags::to_json`]).
    pub fn from_json(text: &str) -> Tags {
        Tags(serde_json::from_str(text).unwrap_or_default())
    }
}

/// An end user's id, checked: 1 to [`MAX_END_USER_ID_CHARS`] characters, no
/// control characters.
pub fn check_end_user_id(id: &str) -> Result<(), String> {
    let n = id.chars().count();
    if n == 0 || n > MAX_END_USER_ID_CHARS {
        return Err(format!(
            "endUserId must be 1 to {MAX_END_USER_ID_CHARS} characters."
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("endUserId must not contain control characters.".to_owned());
    }
    Ok(())
}

/// A display name, checked: up to [`MAX_DISPLAY_NAME_CHARS`] characters, no
/// control characters.
pub fn check_display_name(name: &str) -> Result<(), String> {
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "displayName must be at most {MAX_DISPLAY_NAME_CHARS} characters."
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("displayName must not contain control characters.".to_owned());
    }
    Ok(())
}

/// A key: 1 to 64 of letters, digits, `_`, `-`, `.` and `/` (no `=`, `:` or
/// `,`, which the filters and the form use to write a tag).
fn check_tag_key(key: &str) -> Result<(), String> {
    let n = key.chars().count();
    if n == 0 || n > MAX_TAG_CHARS {
        return Err(format!(
            "A tag's key must be 1 to {MAX_TAG_CHARS} characters (\"{}\").",
            clipped(key)
        ));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
    {
        return Err(format!(
            "A tag's key may hold only letters, digits, _, -, . and / (\"{}\").",
            clipped(key)
        ));
    }
    Ok(())
}

/// A value: 1 to 64 characters, no control characters and no comma.
fn check_tag_value(key: &str, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n == 0 || n > MAX_TAG_CHARS {
        return Err(format!(
            "The value of tag \"{key}\" must be 1 to {MAX_TAG_CHARS} characters."
        ));
    }
    if value.chars().any(|c| c.is_control() || c == ',') {
        return Err(format!(
            "The value of tag \"{key}\" must not contain commas or control characters."
        ));
    }
    Ok(())
}

/// At most 40 characters of what was sent, for a sentence.
fn clipped(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        Tags(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn the_form_writes_tags_as_key_value_lists() {
        let parsed = Tags::parse_list(" tenant=acme,\nregion = eu ").expect("valid");
        assert_eq!(parsed, tags(&[("region", "eu"), ("tenant", "acme")]));
        assert_eq!(parsed.written(), "region=eu, tenant=acme");
        assert_eq!(Tags::parse_list("").expect("none"), Tags::default());
        assert!(Tags::parse_list("tenant").is_err());
        assert!(Tags::parse_list("tenant=a,tenant=b").is_err());
        assert!(Tags::parse_list("ten ant=a").is_err());
        assert!(Tags::parse_list("tenant=").is_err());
    }

    #[test]
    fn sizes_are_bounded() {
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        assert!(Tags::checked(tags(&[(&long, "v")]).0).is_err());
        assert!(Tags::checked(tags(&[("k", &long)]).0).is_err());
        let many: BTreeMap<_, _> = (0..=MAX_TAGS)
            .map(|i| (format!("k{i}"), "v".to_owned()))
            .collect();
        assert!(Tags::checked(many).is_err());
        assert!(check_end_user_id("").is_err());
        assert!(check_end_user_id(&"u".repeat(MAX_END_USER_ID_CHARS + 1)).is_err());
        assert!(check_end_user_id("customer-42").is_ok());
        assert!(check_end_user_id("a\nb").is_err());
        assert!(check_display_name(&"n".repeat(MAX_DISPLAY_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn filters_inclusion_and_merging() {
        assert_eq!(
            Tags::parse_filter("tenant:acme:eu").expect("valid"),
            ("tenant".to_owned(), "acme:eu".to_owned())
        );
        assert!(Tags::parse_filter("tenant").is_err());
        let all = tags(&[("tenant", "acme"), ("region", "eu")]);
        assert!(all.includes(&tags(&[("tenant", "acme")])));
        assert!(all.includes(&Tags::default()));
        assert!(!all.includes(&tags(&[("tenant", "globex")])));
        assert_eq!(
            all.merged(&tags(&[("tenant", "globex"), ("tier", "2")])),
            tags(&[("region", "eu"), ("tenant", "globex"), ("tier", "2")])
        );
        assert_eq!(Tags::from_json(&all.to_json()), all);
        assert_eq!(Tags::from_json("not json"), Tags::default());
    }
}
