//! ListObjectsV2 paging over a sorted key list: prefix, delimiter roll-up, max-keys and
//! resume markers. Pure logic, no I/O.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN_B64;
use base64::Engine as _;

/// Where the previous page stopped. A page ending in a common prefix must resume after
/// every key under that prefix, not merely after the prefix string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    AfterKey(String),
    AfterPrefix(String),
}

impl Marker {
    /// Opaque continuation token for clients.
    pub fn to_token(&self) -> String {
        let raw = match self {
            Marker::AfterKey(k) => format!("k{k}"),
            Marker::AfterPrefix(p) => format!("p{p}"),
        };
        TOKEN_B64.encode(raw)
    }

    pub fn from_token(token: &str) -> Option<Self> {
        let raw = String::from_utf8(TOKEN_B64.decode(token).ok()?).ok()?;
        match raw.split_at_checked(1)? {
            ("k", k) => Some(Marker::AfterKey(k.to_owned())),
            ("p", p) => Some(Marker::AfterPrefix(p.to_owned())),
            _ => None,
        }
    }

    fn skips(&self, key: &str) -> bool {
        match self {
            Marker::AfterKey(k) => key <= k.as_str(),
            Marker::AfterPrefix(p) => key <= p.as_str() || key.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub prefix: String,
    /// Empty means none.
    pub delimiter: String,
    pub max_keys: usize,
    pub after: Option<Marker>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageSelection {
    pub keys: Vec<String>,
    pub common_prefixes: Vec<String>,
    /// Set when more entries follow this page.
    pub next: Option<Marker>,
}

/// Picks one page from `sorted_keys` (ascending byte order).
pub fn select_page<'a>(
    sorted_keys: impl IntoIterator<Item = &'a str>,
    params: &ListParams,
) -> PageSelection {
    let mut page = PageSelection::default();
    let mut count = 0usize;
    let mut last: Option<Marker> = None;
    for key in sorted_keys {
        let Some(rest) = key.strip_prefix(params.prefix.as_str()) else {
            continue;
        };
        if params.after.as_ref().is_some_and(|m| m.skips(key)) {
            continue;
        }
        let entry = match (
            params.delimiter.is_empty(),
            rest.find(params.delimiter.as_str()),
        ) {
            (false, Some(i)) => Marker::AfterPrefix(
                key[..params.prefix.len() + i + params.delimiter.len()].to_owned(),
            ),
            _ => Marker::AfterKey(key.to_owned()),
        };
        if matches!((&entry, &last), (Marker::AfterPrefix(p), Some(Marker::AfterPrefix(q))) if p == q)
        {
            continue;
        }
        if count == params.max_keys {
            // max-keys 0 returns nothing and no token, or a paginator would spin forever.
            page.next = if count == 0 { None } else { last };
            return page;
        }
        count += 1;
        match &entry {
            Marker::AfterKey(k) => page.keys.push(k.clone()),
            Marker::AfterPrefix(p) => page.common_prefixes.push(p.clone()),
        }
        last = Some(entry);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["a/1", "a/2", "a/b/3", "b", "c/x", "c/y", "d"];

    fn params(prefix: &str, delimiter: &str, max_keys: usize) -> ListParams {
        ListParams {
            prefix: prefix.into(),
            delimiter: delimiter.into(),
            max_keys,
            after: None,
        }
    }

    fn all_pages(mut p: ListParams) -> Vec<PageSelection> {
        let mut pages = Vec::new();
        loop {
            let page = select_page(KEYS.iter().copied(), &p);
            p.after = page.next.clone();
            let done = page.next.is_none();
            pages.push(page);
            if done {
                return pages;
            }
        }
    }

    #[test]
    fn delimiter_rolls_up_and_pages_resume_after_prefixes() {
        let pages = all_pages(params("", "/", 2));
        let flat: Vec<(Vec<String>, Vec<String>)> = pages
            .into_iter()
            .map(|p| (p.keys, p.common_prefixes))
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            flat,
            vec![(s(&["b"]), s(&["a/"])), (s(&["d"]), s(&["c/"])),]
        );
    }

    #[test]
    fn prefix_and_token_round_trip() {
        let page = select_page(KEYS.iter().copied(), &params("a/", "/", 1000));
        assert_eq!(page.keys, vec!["a/1", "a/2"]);
        assert_eq!(page.common_prefixes, vec!["a/b/"]);
        assert!(page.next.is_none());
        for m in [
            Marker::AfterKey("x/é".into()),
            Marker::AfterPrefix("p/".into()),
        ] {
            assert_eq!(Marker::from_token(&m.to_token()), Some(m));
        }
        assert_eq!(Marker::from_token("!!"), None);
    }

    #[test]
    fn max_keys_zero_is_empty_and_final() {
        assert_eq!(
            select_page(KEYS.iter().copied(), &params("", "", 0)),
            PageSelection::default()
        );
    }
}
