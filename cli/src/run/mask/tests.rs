use super::*;

/// Independent reference: leftmost-longest replacement written the obvious
/// way, sharing no code with the masker.
fn naive(secrets: &[&str], text: &str) -> String {
    let usable: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| s.len() >= MIN_MASKED_LEN)
        .collect();
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let best = usable
            .iter()
            .filter(|s| bytes[i..].starts_with(s.as_bytes()))
            .map(|s| s.len())
            .max();
        match best {
            Some(len) => {
                out.extend_from_slice(MASK);
                i += len;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

fn stream(secrets: &[&str], chunks: &[&[u8]]) -> Vec<u8> {
    let mut masker = Masker::new(secrets);
    let mut out = Vec::new();
    for chunk in chunks {
        masker.feed(chunk, &mut out);
        assert!(masker.held_len() < masker.longest.max(1));
    }
    masker.finish(&mut out);
    assert_eq!(masker.held_len(), 0);
    out
}

fn masked(secrets: &[&str], text: &str) -> String {
    String::from_utf8(mask_all(secrets, text.as_bytes())).unwrap_or_default()
}

#[test]
fn masks_every_occurrence() {
    assert_eq!(
        masked(&["hunter2!"], "pw=hunter2! again hunter2!"),
        "pw=******** again ********"
    );
}

#[test]
fn leaves_text_without_secrets_alone() {
    assert_eq!(masked(&["s3cret"], "nothing to see"), "nothing to see");
    assert_eq!(masked(&[], "nothing to see"), "nothing to see");
}

#[test]
fn short_values_are_not_masked() {
    assert_eq!(masked(&["abc", "a", ""], "a abc abcd"), "a abc abcd");
    assert!(!Masker::new(["abc"]).is_active());
    assert_eq!(masked(&["abcd"], "abc abcd"), "abc ********");
}

#[test]
fn longest_match_wins_for_prefixes() {
    assert_eq!(
        masked(&["token", "token-long"], "x token-long y"),
        "x ******** y"
    );
    assert_eq!(
        masked(&["token", "token-long"], "x token-lon y"),
        "x ********-lon y"
    );
}

#[test]
fn longest_match_wins_for_substrings() {
    // "cret" sits inside "secret": the longer value must go entirely.
    assert_eq!(
        masked(&["cret", "secret"], "secret cret"),
        "******** ********"
    );
}

#[test]
fn overlapping_occurrences_mask_leftmost() {
    assert_eq!(masked(&["abab"], "ababab"), "********ab");
    assert_eq!(masked(&["aaaa"], "aaaaaaaaa"), "****************a");
}

#[test]
fn secret_split_across_chunks_is_masked() {
    let out = stream(&["supersecret"], &[b"key=super", b"sec", b"ret\n"]);
    assert_eq!(out, b"key=********\n");
}

#[test]
fn secret_split_into_single_bytes_is_masked() {
    let text = b"a supersecret b";
    let chunks: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(stream(&["supersecret"], &chunks), b"a ******** b");
}

#[test]
fn releases_everything_that_cannot_start_a_secret() {
    let mut masker = Masker::new(["secret"]);
    let mut out = Vec::new();
    masker.feed(b"hello world\n", &mut out);
    assert_eq!(out, b"hello world\n");
    assert_eq!(masker.held_len(), 0);
}

#[test]
fn holds_at_most_longest_minus_one() {
    let mut masker = Masker::new(["abcdefgh", "abcd"]);
    let mut out = Vec::new();
    masker.feed(b"xxabcdefg", &mut out);
    assert_eq!(out, b"xx");
    assert_eq!(masker.held_len(), 7);
    masker.feed(b"Z", &mut out);
    assert_eq!(out, b"xx********efgZ");
    assert_eq!(masker.held_len(), 0);
}

#[test]
fn finish_flushes_held_tail() {
    let mut masker = Masker::new(["secret"]);
    let mut out = Vec::new();
    masker.feed(b"the secr", &mut out);
    assert_eq!(out, b"the ");
    masker.finish(&mut out);
    assert_eq!(out, b"the secr");
}

#[test]
fn finish_masks_shorter_match_when_longer_never_completes() {
    let mut masker = Masker::new(["abcd", "abcdefgh"]);
    let mut out = Vec::new();
    masker.feed(b"abcdef", &mut out);
    assert!(out.is_empty());
    masker.finish(&mut out);
    assert_eq!(out, b"********ef");
}

#[test]
fn handles_non_utf8_bytes() {
    let secret: &[u8] = &[0xff, 0x00, 0xfe, 0x01];
    let out = mask_all([secret], &[b'a', 0xff, 0x00, 0xfe, 0x01, b'b']);
    assert_eq!(out, b"a********b");
}

#[test]
fn duplicate_secrets_are_harmless() {
    assert_eq!(masked(&["dupe", "dupe"], "dupe"), "********");
}

const CASES: &[(&[&str], &str)] = &[
    (
        &["supersecret"],
        "a supersecret, then supersecretsupersecret!",
    ),
    (&["abab", "ababab", "baba"], "abababababa babab aba ababab"),
    (
        &["cret", "secret", "secret-long"],
        "secret-lon secret-long cret secre",
    ),
    (&["aaaa", "aaaaaa"], "aaaaaaaaaaaaaaaaa b aaa"),
    (&["xyz1", "1xyz"], "xyz1xyz1xyz 1xyz1"),
];

#[test]
fn one_shot_matches_naive_reference() {
    for (secrets, text) in CASES {
        assert_eq!(masked(secrets, text), naive(secrets, text), "{text}");
    }
}

#[test]
fn every_single_split_point_matches_one_shot() {
    for (secrets, text) in CASES {
        let bytes = text.as_bytes();
        let expected = mask_all(*secrets, bytes);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(stream(secrets, &[a, b]), expected, "{text} cut at {cut}");
        }
    }
}

#[test]
fn every_pair_of_split_points_matches_one_shot() {
    for (secrets, text) in CASES {
        let bytes = text.as_bytes();
        let expected = mask_all(*secrets, bytes);
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let chunks = [&bytes[..i], &bytes[i..j], &bytes[j..]];
                assert_eq!(stream(secrets, &chunks), expected, "{text} cut {i},{j}");
            }
        }
    }
}

/// Deterministic xorshift so the randomized test is reproducible without a
/// dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_texts_and_chunkings_match_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // A tiny alphabet makes near-misses and overlaps frequent.
    let alphabet = b"ab";
    for round in 0..300 {
        let secrets: Vec<String> = (0..1 + rng.below(3))
            .map(|_| {
                (0..4 + rng.below(4))
                    .map(|_| char::from(alphabet[rng.below(2)]))
                    .collect()
            })
            .collect();
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let text: String = (0..rng.below(60))
            .map(|_| char::from(alphabet[rng.below(2)]))
            .collect();
        let expected = naive(&refs, &text);
        let bytes = text.as_bytes();
        let mut chunks = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let end = (start + rng.below(6)).min(bytes.len());
            chunks.push(&bytes[start..end]);
            start = end;
        }
        let got = stream(&refs, &chunks);
        assert_eq!(got, expected.as_bytes(), "round {round}: {refs:?} {text}");
    }
}

#[test]
fn json_dumps_form_is_masked() {
    assert_eq!(
        masked(&["ab\"cd\\ef"], r#"{"k": "ab\"cd\\ef"}"#),
        r#"{"k": "********"}"#
    );
    assert_eq!(masked(&["pässword"], r#""p\u00e4ssword""#), r#""********""#);
}

#[test]
fn python_repr_form_is_masked() {
    assert_eq!(
        masked(&["it's\"x\\y"], r#"{'k': 'it\'s"x\\y'}"#),
        "{'k': '********'}"
    );
}

#[test]
fn percent_encoded_forms_are_masked() {
    let secret = "a+b/c d";
    for text in [
        "q=a%2Bb%2Fc%20d&",
        "q=a%2bb%2fc%20d&",
        "q=a%2Bb%2Fc+d&",
        "q=a%2Bb/c%20d&",
    ] {
        assert_eq!(masked(&[secret], text), "q=********&", "{text}");
    }
}

#[test]
fn encoded_form_split_across_chunks_is_masked() {
    let text = br#"{"k": "ab\"cd\\ef"} u=ab%22cd%5Cef"#;
    let expected = br#"{"k": "********"} u=********"#;
    for cut in 0..=text.len() {
        let (a, b) = text.split_at(cut);
        assert_eq!(stream(&["ab\"cd\\ef"], &[a, b]), expected, "cut at {cut}");
    }
    let singles: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(stream(&["ab\"cd\\ef"], &singles), expected);
}

#[test]
fn added_values_are_masked_from_then_on() {
    let mut masker = Masker::new(["first-one"]);
    let mut out = Vec::new();
    masker.feed(b"later-one first-one ", &mut out);
    masker.add(["later-one"]);
    masker.feed(b"later-one", &mut out);
    masker.finish(&mut out);
    assert_eq!(out, b"later-one ******** ********");
}

#[test]
fn short_values_get_no_encoded_forms_either() {
    // "a b" is below the threshold; its form "a+b" is longer but must not be masked.
    assert_eq!(masked(&["a b"], "a+b a%20b"), "a+b a%20b");
}
