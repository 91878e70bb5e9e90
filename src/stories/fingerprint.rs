//! A document's fingerprint for finding its copies, made from the set of its body's word
//! 3-shingles (the analyzer's tokens, so case and accents do not matter): a MinHash signature
//! (one permutation, densified) for the LSH bands that find candidates, and bottom-k sketches (the smallest hashes) of the
//! shingles and of the shingles holding a digit, with the sizes of both sets, to verify them.
//!
//! Two documents are copies of one story when the *overlap* of their shingle sets
//! (|A ∩ B| / min(|A|, |B|)) reaches the threshold, and so does the overlap of their
//! digit-bearing shingles when both have enough of them. Overlap, not Jaccard: a copy that
//! drops or adds a paragraph still has most of its shingles in the other. The digit check keeps
//! apart the recurring reports a wire sends every day or month ("Japan February money supply
//! rises 8.8 pct", "... March ... 9.0 pct"): their wording is one template, their figures
//! differ. The overlap is exact when both sets fit their sketches (most news articles: up to
//! [`SKETCH_LEN`] shingles), and estimated from the hashes both sketches cover otherwise (the
//! same uniform sample of each set).
//!
//! Every hash is a fixed, specified function (xxh3 with fixed seeds), so fingerprints are the
//! same in every process and version that keeps [`FINGERPRINT_VERSION`]; they are stored in the
//! ledger and read back at start-up.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Minimum hashes in the MinHash signature the LSH bands are cut from.
pub const SIGNATURE_LEN: usize = 64;
/// The smallest shingle hashes kept to verify a candidate.
pub const SKETCH_LEN: usize = 128;
/// The smallest digit-bearing shingle hashes kept.
pub const DIGIT_SKETCH_LEN: usize = 64;
/// An estimated overlap rests on at least this many hashes of the smaller set, or is 0.
pub const MIN_SAMPLE: usize = 12;
/// Words per shingle.
pub const SHINGLE_WORDS: usize = 3;
/// A body with fewer distinct shingles than this gets no fingerprint (a brief or a table row
/// is too short to tell a copy from another report of the same kind): exact copies are still
/// found by content id.
pub const MIN_SHINGLES: u32 = 16;
/// The digit check applies when both documents have at least this many digit-bearing
/// shingles: a few (a year in a boilerplate line, a figure in a dropped paragraph) say nothing
/// of which report it is.
pub const MIN_DIGIT_SHINGLES: u32 = 8;
/// How much of the digit-bearing shingles must be shared, whatever the threshold (when the
/// digit check applies): a copy keeps its figures, the next day's report changes one or two of
/// a handful ("1.5 billion dlrs" for "2.5 billion dlrs").
pub const DIGIT_THRESHOLD: f64 = 0.75;
/// Bumped when the hashing or the stored form changes: a stored fingerprint of another version
/// is not read.
pub const FINGERPRINT_VERSION: u8 = 3;
const _: () = assert!(SIGNATURE_LEN.is_power_of_two());
/// The longest stored form, in bytes.
pub const MAX_STORED_LEN: usize = 1 + 4 * (4 + SIGNATURE_LEN + SKETCH_LEN + DIGIT_SKETCH_LEN);

const SHINGLE_SEED: u64 = 0x6c6f_6f6b_6f75_7431; // "lookout1"

/// A token's hash, and whether it holds a digit.
pub type HashedToken = (u64, bool);

/// What a fingerprint knows of a token.
pub fn hash_token(token: &str) -> HashedToken {
    (
        xxh3_64_with_seed(token.as_bytes(), SHINGLE_SEED),
        token.bytes().any(|b| b.is_ascii_digit()),
    )
}

/// A document's fingerprint (see the module's comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Distinct shingles.
    shingles: u32,
    /// Distinct shingles holding a digit.
    digit_shingles: u32,
    signature: [u32; SIGNATURE_LEN],
    /// The smallest `SKETCH_LEN` shingle hashes, ascending.
    sketch: Box<[u32]>,
    /// The smallest `DIGIT_SKETCH_LEN` hashes of the digit-bearing shingles, ascending.
    digit_sketch: Box<[u32]>,
}

/// splitmix64's finalizer: a bijection that spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The MinHash signature by one permutation hashing, densified (Shrivastava and Li, 2014):
/// each shingle's hash goes to one of the signature's bins (its top bits) and each bin keeps
/// its smallest value (the low bits); an empty bin takes the value of the next bin that is not
/// empty, to its right and around, marked with the distance. One hash per shingle, not one per
/// shingle and bin: two sets still agree in a bin with probability about their Jaccard
/// similarity.
fn signature_of(shingles: &[u64]) -> [u32; SIGNATURE_LEN] {
    const EMPTY: u32 = u32::MAX;
    let bits = SIGNATURE_LEN.trailing_zeros();
    let mut bins = [EMPTY; SIGNATURE_LEN];
    for &shingle in shingles {
        // A shingle is a well-mixed hash; its bin from its low bits, its value from the
        // 31 above them (the sketches use the upper half).
        let bin = (shingle as usize) & (SIGNATURE_LEN - 1);
        let value = ((shingle >> bits) as u32) >> 1; // below EMPTY
        if value < bins[bin] {
            bins[bin] = value;
        }
    }
    if bins.iter().all(|&b| b == EMPTY) {
        return bins;
    }
    let mut signature = bins;
    for i in 0..SIGNATURE_LEN {
        if bins[i] != EMPTY {
            continue;
        }
        let mut distance = 1;
        while bins[(i + distance) % SIGNATURE_LEN] == EMPTY {
            distance += 1;
        }
        let borrowed = bins[(i + distance) % SIGNATURE_LEN];
        signature[i] = (mix(u64::from(borrowed) ^ ((distance as u64) << 40)) as u32) >> 1;
    }
    signature
}

/// The `len` smallest distinct 32-bit hashes of the shingles, ascending. A shingle is already
/// a well-mixed 64-bit hash and `shingles` is sorted: its upper halves are in order.
fn sketch_of(shingles: &[u64], len: usize) -> Box<[u32]> {
    let mut hashes: Vec<u32> = Vec::with_capacity(len.min(shingles.len()));
    for &shingle in shingles {
        let hash = (shingle >> 32) as u32;
        if hashes.last() != Some(&hash) {
            if hashes.len() == len {
                break;
            }
            hashes.push(hash);
        }
    }
    hashes.into_boxed_slice()
}

impl Fingerprint {
    /// The fingerprint of a body given as its analyzed tokens, in order; `None` when it has
    /// fewer than [`MIN_SHINGLES`] distinct shingles.
    pub fn of_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Option<Fingerprint> {
        Self::of_hashed_tokens(tokens.into_iter().map(hash_token))
    }

    /// [`Fingerprint::of_tokens`] from each token's [`hash_token`] (a caller that knows the
    /// distinct terms hashes each once).
    pub fn of_hashed_tokens(tokens: impl IntoIterator<Item = HashedToken>) -> Option<Fingerprint> {
        let mut window: [HashedToken; SHINGLE_WORDS] = [(0, false); SHINGLE_WORDS];
        let mut seen = 0usize;
        let mut shingles: Vec<u64> = Vec::new();
        let mut digit_shingles: Vec<u64> = Vec::new();
        for token in tokens {
            window.rotate_left(1);
            window[SHINGLE_WORDS - 1] = token;
            seen += 1;
            if seen < SHINGLE_WORDS {
                continue;
            }
            let shingle = window
                .iter()
                .fold(0u64, |acc, &(h, _)| mix(acc.rotate_left(23) ^ h));
            shingles.push(shingle);
            if window.iter().any(|&(_, digit)| digit) {
                digit_shingles.push(shingle);
            }
        }
        for set in [&mut shingles, &mut digit_shingles] {
            set.sort_unstable();
            set.dedup();
        }
        let count = u32::try_from(shingles.len()).unwrap_or(u32::MAX);
        if count < MIN_SHINGLES {
            return None;
        }
        Some(Fingerprint {
            shingles: count,
            digit_shingles: u32::try_from(digit_shingles.len()).unwrap_or(u32::MAX),
            signature: signature_of(&shingles),
            sketch: sketch_of(&shingles, SKETCH_LEN),
            // Below the digit check's minimum the digit sketch is never read: not kept.
            digit_sketch: if digit_shingles.len() >= MIN_DIGIT_SHINGLES as usize {
                sketch_of(&digit_shingles, DIGIT_SKETCH_LEN)
            } else {
                Box::default()
            },
        })
    }

    /// The signature's minimum hashes, for the LSH bands.
    pub fn signature(&self) -> &[u32; SIGNATURE_LEN] {
        &self.signature
    }

    /// The overlap of the two documents' shingles, and of their digit-bearing shingles when
    /// both have at least [`MIN_DIGIT_SHINGLES`] (else `None`): exact when the sets fit their
    /// sketches, estimated otherwise.
    pub fn overlap(&self, other: &Fingerprint) -> (f64, Option<f64>) {
        let shingles = sketch_overlap(
            (&self.sketch, self.shingles),
            (&other.sketch, other.shingles),
            SKETCH_LEN,
        );
        let digits = (self.digit_shingles >= MIN_DIGIT_SHINGLES
            && other.digit_shingles >= MIN_DIGIT_SHINGLES)
            .then(|| {
                sketch_overlap(
                    (&self.digit_sketch, self.digit_shingles),
                    (&other.digit_sketch, other.digit_shingles),
                    DIGIT_SKETCH_LEN,
                )
            });
        (shingles, digits)
    }

    /// Whether the two are copies of one story at this threshold (an overlap from 0 to 1; the
    /// digit-bearing shingles at [`DIGIT_THRESHOLD`] or the threshold if higher), and if so
    /// how similar (the shingles' overlap). Symmetric.
    pub fn same_story(&self, other: &Fingerprint, threshold: f64) -> Option<f64> {
        let (shingles, digits) = self.overlap(other);
        let digit_threshold = threshold.max(DIGIT_THRESHOLD);
        (shingles >= threshold && digits.is_none_or(|d| d >= digit_threshold)).then_some(shingles)
    }

    /// The stored form, little-endian: a version byte, the two set sizes, the two sketches'
    /// lengths, the signature and the sketches.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_STORED_LEN);
        out.push(FINGERPRINT_VERSION);
        let lengths = [
            self.shingles,
            self.digit_shingles,
            self.sketch.len() as u32,
            self.digit_sketch.len() as u32,
        ];
        for word in lengths
            .iter()
            .chain(self.signature.iter())
            .chain(self.sketch.iter())
            .chain(self.digit_sketch.iter())
        {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Read the stored form back; `None` for another version or a damaged value.
    pub fn from_bytes(bytes: &[u8]) -> Option<Fingerprint> {
        let (&version, rest) = bytes.split_first()?;
        if version != FINGERPRINT_VERSION || rest.len() % 4 != 0 {
            return None;
        }
        let mut words = rest
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let shingles = words.next()?;
        let digit_shingles = words.next()?;
        let sketch_len = words.next()? as usize;
        let digit_sketch_len = words.next()? as usize;
        if sketch_len > SKETCH_LEN
            || digit_sketch_len > DIGIT_SKETCH_LEN
            || rest.len() != 4 * (4 + SIGNATURE_LEN + sketch_len + digit_sketch_len)
        {
            return None;
        }
        let mut signature = [0u32; SIGNATURE_LEN];
        for slot in &mut signature {
            *slot = words.next()?;
        }
        let sketch: Box<[u32]> = words.by_ref().take(sketch_len).collect();
        let digit_sketch: Box<[u32]> = words.take(digit_sketch_len).collect();
        let ascending = |s: &[u32]| s.windows(2).all(|w| w[0] < w[1]);
        (ascending(&sketch) && ascending(&digit_sketch)).then_some(Fingerprint {
            shingles,
            digit_shingles,
            signature,
            sketch,
            digit_sketch,
        })
    }
}

/// |A ∩ B| / min(|A|, |B|) from the bottom-`len` sketches of A and B and their sizes. A sketch
/// holds every hash of its set up to its largest when the set filled it (else all of them),
/// so below the smaller of the full sketches' largest hashes both hold every hash of their
/// set: the same uniform sample of A and of B (all of both when neither is full, and the
/// overlap is exact).
fn sketch_overlap(a: (&[u32], u32), b: (&[u32], u32), len: usize) -> f64 {
    let bound = |(sketch, size): (&[u32], u32)| {
        (sketch.len() >= len && size as usize > sketch.len())
            .then(|| sketch.last().copied())
            .flatten()
            .unwrap_or(u32::MAX)
    };
    let limit = bound(a).min(bound(b));
    let sample = |sketch: &[u32]| sketch.partition_point(|&h| h <= limit);
    let (sample_a, sample_b) = (&a.0[..sample(a.0)], &b.0[..sample(b.0)]);
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < sample_a.len() && j < sample_b.len() {
        match sample_a[i].cmp(&sample_b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let smaller = sample_a.len().min(sample_b.len());
    // Estimated on a handful of hashes (a brief beside a long article), the overlap says
    // nothing: not a copy. Exact (both sets whole in their sketches), it is always answered.
    if smaller == 0 || (limit != u32::MAX && smaller < MIN_SAMPLE) {
        return 0.0;
    }
    (both as f64 / smaller as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str) -> Vec<String> {
        let mut analyzer = crate::analysis::Analyzer::default();
        analyzer.terms(text)
    }

    fn print(text: &str) -> Option<Fingerprint> {
        let words = words(text);
        Fingerprint::of_tokens(words.iter().map(String::as_str))
    }

    const STORY: &str = "Niger's military junta said on Saturday it had ended with immediate \
        effect a security agreement that allowed military personnel and civilian staff from \
        the U.S. Department of Defense on its territory. The decision follows a visit to Niger \
        this week by a U.S. delegation led by Assistant Secretary of State for African Affairs \
        Molly Phee, which the junta's spokesperson said had not followed diplomatic protocol. \
        Niger is a key partner of Washington in the fight against insurgents in the Sahel.";

    #[test]
    fn a_copy_with_a_new_byline_and_changed_words_is_the_same_story() {
        let original = print(STORY).unwrap();
        let copy = print(&format!(
            "By Jane Doe, staff writer. {}",
            STORY
                .replace("Saturday", "Sunday")
                .replace("key partner", "main ally")
        ))
        .unwrap();
        assert!(original.same_story(&copy, 0.5).is_some());
        assert!(copy.same_story(&original, 0.5).is_some());
    }

    #[test]
    fn case_and_accents_do_not_matter() {
        let original = print(STORY).unwrap();
        let shouted = print(&STORY.to_uppercase().replace("DEFENSE", "DÉFENSE")).unwrap();
        assert_eq!(original.same_story(&shouted, 0.5), Some(1.0));
    }

    #[test]
    fn another_story_is_not_a_copy() {
        let original = print(STORY).unwrap();
        let other = print(
            "The central bank left its key interest rate unchanged on Thursday, saying \
             inflation was easing but that risks from energy prices and wages remained, \
             and it signalled that cuts could come later in the year if the trend held. \
             Markets had expected the decision and the currency barely moved after it.",
        )
        .unwrap();
        assert_eq!(original.same_story(&other, 0.5), None);
    }

    #[test]
    fn a_monthly_report_with_other_figures_is_not_a_copy() {
        let template = |month: &str, a: &str, b: &str, c: &str| {
            format!(
                "Japan's broadly defined money supply average of M-2 plus certificates of \
                 deposit rose a preliminary {a} pct in {month} from a year earlier, compared \
                 with {b} pct in the previous month, the Bank of Japan said. The seasonally \
                 adjusted figure rose {c} pct from the month before, the bank said, and \
                 officials expect growth to slow in the months ahead."
            )
        };
        let march = print(&template("March", "9.0", "8.8", "0.7")).unwrap();
        let february = print(&template("February", "8.8", "8.5", "1.1")).unwrap();
        assert_eq!(march.same_story(&february, 0.5), None);
        let copy =
            print(&template("March", "9.0", "8.8", "0.7").replace("officials", "economists"))
                .unwrap();
        assert!(march.same_story(&copy, 0.5).is_some());
    }

    #[test]
    fn a_short_text_has_no_fingerprint() {
        assert_eq!(print("Shr 10 cts vs 12 cts. Net 1.2 mln vs 1.4 mln."), None);
        assert_eq!(print(""), None);
    }

    #[test]
    fn the_stored_form_reads_back_and_refuses_other_versions() {
        let original = print(STORY).unwrap();
        let bytes = original.to_bytes();
        assert!(bytes.len() <= MAX_STORED_LEN);
        assert_eq!(Fingerprint::from_bytes(&bytes), Some(original));
        let mut other = bytes.clone();
        other[0] = FINGERPRINT_VERSION + 1;
        assert_eq!(Fingerprint::from_bytes(&other), None);
        assert_eq!(Fingerprint::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Fingerprint::from_bytes(&bytes[..bytes.len() - 4]), None);
        assert_eq!(Fingerprint::from_bytes(&[]), None);
    }

    #[test]
    fn fingerprints_do_not_change_between_processes() {
        // A fingerprint is stored and compared across restarts and upgrades: its hashing is
        // fixed (this value pins it; FINGERPRINT_VERSION must change with it).
        let bytes = print(STORY).unwrap().to_bytes();
        let digest = xxh3_64_with_seed(&bytes, 0);
        assert_eq!(
            digest, PINNED,
            "fingerprint hashing changed: bump FINGERPRINT_VERSION"
        );
    }
    const PINNED: u64 = 10_734_478_528_931_579_665;

    proptest! {
        /// Sets that fit their sketches are compared exactly; larger ones on the hashes both
        /// sketches cover, which for a set inside another still gives all of it.
        #[test]
        fn the_overlap_of_sketches_is_exact_when_they_hold_the_sets(
            a in proptest::collection::btree_set(0u32..400, 1..SKETCH_LEN),
            b in proptest::collection::btree_set(0u32..400, 1..SKETCH_LEN),
            big in proptest::collection::btree_set(0u32..100_000, 300..600),
        ) {
            let exact = a.intersection(&b).count() as f64 / a.len().min(b.len()) as f64;
            let sa: Vec<u32> = a.iter().copied().collect();
            let sb: Vec<u32> = b.iter().copied().collect();
            let overlap = sketch_overlap((&sa, sa.len() as u32), (&sb, sb.len() as u32), SKETCH_LEN);
            prop_assert!((overlap - exact).abs() < 1e-9, "{} vs {}", overlap, exact);
            // A large set and a subset of it: the sample of the subset is inside the other's.
            let full: Vec<u32> = big.iter().copied().collect();
            let part: Vec<u32> = full.iter().copied().step_by(2).collect();
            let sketch = |s: &[u32]| s.iter().copied().take(SKETCH_LEN).collect::<Vec<u32>>();
            let overlap = sketch_overlap(
                (&sketch(&full), full.len() as u32),
                (&sketch(&part), part.len() as u32),
                SKETCH_LEN,
            );
            prop_assert_eq!(overlap, 1.0);
        }

        #[test]
        fn the_similarity_is_symmetric_and_a_text_is_its_own_copy(
            a in proptest::collection::vec("[a-e]{1,3}", 16..80),
            b in proptest::collection::vec("[a-e]{1,3}", 16..80),
        ) {
            let fa = Fingerprint::of_tokens(a.iter().map(String::as_str));
            let fb = Fingerprint::of_tokens(b.iter().map(String::as_str));
            if let (Some(fa), Some(fb)) = (fa, fb) {
                prop_assert_eq!(fa.same_story(&fb, 0.5), fb.same_story(&fa, 0.5));
                prop_assert_eq!(fa.same_story(&fa, 0.5), Some(1.0));
                let (o, d) = fa.overlap(&fb);
                prop_assert!((0.0..=1.0).contains(&o));
                prop_assert!(d.is_none_or(|d| (0.0..=1.0).contains(&d)));
            }
        }
    }
}
