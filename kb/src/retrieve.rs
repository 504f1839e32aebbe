//! Retrieval over the guide with tantivy.
//!
//! Each item is one document with seven indexed views: the *name* (title, aliases,
//! dialect aliases) and the *body* (category, eligibility, summary, materials, steps),
//! each as jieba words, character bigrams and folded pinyin syllable pairs, plus the
//! name's single pinyin syllables. A query is analysed with the same tokenizers and
//! searched in every view at once (one boolean "should" query); name views weigh more
//! than body views, exact characters more than sounds.
//!
//! The term-view scores are then re-ranked by sound: each item's names are aligned
//! syllable by syllable against the query ([`xiaoan_intents::sound`]), and what that
//! alignment finds beyond the exact characters is added (社泡咖 for 社保卡, 祝祖生 for
//! 居住证: recogniser output whose characters are wrong but whose sounds are close). A
//! query whose names are written right ranks as it did without it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::analyze;
use crate::error::{KbError, Result};
use crate::guide::{Guide, Item};
use xiaoan_intents::sound::{syllables, Names};

/// One retrieved item.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Hit {
    /// Item id.
    pub id: String,
    /// Item title.
    pub title: String,
    /// Raw relevance score (boosted BM25 summed over the views).
    pub score: f32,
    /// Confidence in [0, 1] that this is the item meant.
    pub confidence: f32,
}

/// A retriever over the service guide.
///
/// Synchronous and object-safe so that the dialogue can hold any implementation
/// behind `Arc<dyn Retriever>`; queries are normalised text (dialect words already
/// mapped to Mandarin), but Traditional characters and homophone errors are tolerated.
pub trait Retriever: Send + Sync {
    /// The `k` best items for a query, best first; empty when nothing matches.
    fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>>;
}

/// Name of the file in the index directory that records the guide fingerprint.
const FINGERPRINT_FILE: &str = "xiaoan-kb.fingerprint";
/// Writer memory budget per thread (tantivy's minimum is 15 MB).
const WRITER_HEAP_BYTES: usize = 40_000_000;
/// Hits scored to compute confidences, whatever `k` is asked.
pub(crate) const CONFIDENCE_POOL: usize = 5;
/// Softmax temperature, as a fraction of the top score (scores are scale-free this way).
const TEMPERATURE_FRAC: f32 = 0.12;
/// Score at which absolute evidence is ~63 % convincing (calibrated on kb/data/queries.tsv).
const SCORE_SCALE: f32 = 15.0;
/// Term-view hits re-ranked with the sound score.
const RERANK_POOL: usize = 50;
/// Up to this many items, every item is scored by sound, not only the term-view hits (a
/// transcript may share no term with the item meant).
const SOUND_SCAN_ALL: usize = 5_000;
/// Weight of what sound adds to characters ([`Names::score_misheard`]) in an item's score
/// (measured on `examples/speech.rs`: speech dev transcripts and the guide questions garbled
/// by the noise model; 6–12 are alike, 8 chosen).
const SOUND_WEIGHT: f32 = 8.0;
/// Sound evidence below this is not counted (a two-syllable name heard roughly: chance).
const SOUND_FLOOR: f32 = 0.5;

/// View name, tokenizer, boost.
const VIEWS: &[(&str, &str, f32)] = &[
    ("name_words", analyze::WORDS, 3.0),
    ("name_bigrams", analyze::BIGRAMS, 2.5),
    ("name_pinyin2", analyze::PINYIN_PAIRS, 2.0),
    ("name_pinyin1", analyze::PINYIN_SYLLABLES, 0.3),
    ("body_words", analyze::WORDS, 0.8),
    ("body_bigrams", analyze::BIGRAMS, 0.5),
    ("body_pinyin2", analyze::PINYIN_PAIRS, 0.3),
];

struct Fields {
    id: Field,
    title: Field,
    views: Vec<(Field, &'static str, f32)>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let id = b.add_text_field("id", STRING | STORED);
    let title = b.add_text_field("title", STORED);
    let views = VIEWS
        .iter()
        .map(|(name, tok, boost)| {
            let opts = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tok)
                    .set_index_option(IndexRecordOption::WithFreqs),
            );
            (b.add_text_field(name, opts), *tok, *boost)
        })
        .collect();
    (b.build(), Fields { id, title, views })
}

fn register_tokenizers(index: &Index) {
    let t = index.tokenizers();
    t.register(
        analyze::WORDS,
        TextAnalyzer::from(analyze::WordsTokenizer::new()),
    );
    t.register(
        analyze::BIGRAMS,
        TextAnalyzer::from(analyze::BigramTokenizer),
    );
    t.register(
        analyze::PINYIN_PAIRS,
        TextAnalyzer::from(analyze::PinyinPairTokenizer),
    );
    t.register(
        analyze::PINYIN_SYLLABLES,
        TextAnalyzer::from(analyze::PinyinSyllableTokenizer),
    );
}

fn name_texts(item: &Item) -> Vec<&str> {
    std::iter::once(item.title.as_str())
        .chain(item.aliases.iter().map(String::as_str))
        .chain(item.dialect_aliases.iter().map(String::as_str))
        .collect()
}

fn body_texts(item: &Item) -> Vec<&str> {
    [
        item.category.as_str(),
        item.summary.as_str(),
        item.eligibility.as_str(),
    ]
    .into_iter()
    .chain(item.materials.iter().map(String::as_str))
    .chain(item.steps.iter().map(String::as_str))
    .collect()
}

/// The tantivy retriever (on disk or in RAM), with the items' names by sound.
pub struct TantivyRetriever {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    sound: Sound,
}

/// The guide's items as (id, title) in guide order, and each id's place in that order.
pub(crate) fn item_order(guide: &Guide) -> (Vec<(String, String)>, HashMap<String, usize>) {
    let items: Vec<(String, String)> = guide
        .items
        .iter()
        .map(|i| (i.id.clone(), i.title.clone()))
        .collect();
    let by_id = items
        .iter()
        .enumerate()
        .map(|(n, (id, _))| (id.clone(), n))
        .collect();
    (items, by_id)
}

/// The items' names by sound ([`xiaoan_intents::sound`]), with ids and titles in guide order.
struct Sound {
    names: Names,
    items: Vec<(String, String)>,
    by_id: HashMap<String, usize>,
}

impl Sound {
    fn new(guide: &Guide) -> Sound {
        let (items, by_id) = item_order(guide);
        Sound {
            names: Names::grouped(guide.items.iter().map(|i| {
                std::iter::once(&i.title)
                    .chain(&i.aliases)
                    .chain(&i.dialect_aliases)
            })),
            items,
            by_id,
        }
    }
}

impl TantivyRetriever {
    /// Opens the index in `index_dir`; builds it when it is missing, corrupt, or was built
    /// from another version of the guide (fingerprint mismatch). A directory that is not
    /// empty and holds no index of ours is left alone and reported as an error.
    pub fn open_or_build(guide: &Guide, index_dir: &Path) -> Result<Self> {
        let fp = guide.fingerprint();
        if let Some(r) = Self::try_open(index_dir, guide, &fp) {
            return Ok(r);
        }
        clear_index_dir(index_dir)?;
        std::fs::create_dir_all(index_dir).map_err(|e| KbError::Io {
            path: index_dir.to_path_buf(),
            source: e,
        })?;
        let (schema, fields) = schema();
        let index = Index::create_in_dir(index_dir, schema)?;
        let r = Self::fill(index, fields, guide, 2)?;
        std::fs::write(index_dir.join(FINGERPRINT_FILE), fp.as_bytes()).map_err(|e| {
            KbError::Io {
                path: index_dir.join(FINGERPRINT_FILE),
                source: e,
            }
        })?;
        Ok(r)
    }

    /// Builds an index in memory (tests, evaluation, read-only machines).
    pub fn in_ram(guide: &Guide) -> Result<Self> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        Self::fill(index, fields, guide, 1)
    }

    fn try_open(dir: &Path, guide: &Guide, fp: &str) -> Option<Self> {
        let stored = std::fs::read_to_string(dir.join(FINGERPRINT_FILE)).ok()?;
        if stored.trim() != fp {
            return None;
        }
        let index = Index::open_in_dir(dir).ok()?;
        if !index.validate_checksum().ok()?.is_empty() {
            return None;
        }
        let (expected, fields) = schema();
        if index.schema() != expected {
            return None;
        }
        register_tokenizers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .ok()?;
        let r = TantivyRetriever {
            index,
            reader,
            fields,
            sound: Sound::new(guide),
        };
        // A probe query touches every view's postings: a damaged segment fails here.
        r.search("社区服务 she qu", 1).ok()?;
        Some(r)
    }

    fn fill(index: Index, fields: Fields, guide: &Guide, threads: usize) -> Result<Self> {
        register_tokenizers(&index);
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(
            threads.max(1),
            WRITER_HEAP_BYTES * threads.max(1),
        )?;
        for item in &guide.items {
            let mut doc = TantivyDocument::default();
            doc.add_text(fields.id, &item.id);
            doc.add_text(fields.title, &item.title);
            for (i, (field, _, _)) in fields.views.iter().enumerate() {
                let texts = if i < 4 {
                    name_texts(item)
                } else {
                    body_texts(item)
                };
                for t in texts {
                    doc.add_text(*field, t);
                }
            }
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TantivyRetriever {
            index,
            reader,
            fields,
            sound: Sound::new(guide),
        })
    }

    fn query(&self, text: &str) -> Option<BooleanQuery> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, tok, boost) in &self.fields.views {
            let mut analyzer = self.index.tokenizers().get(tok)?;
            let mut stream = analyzer.token_stream(text);
            let mut seen = HashSet::new();
            while let Some(t) = stream.next() {
                if seen.insert(t.text.clone()) {
                    let term = Term::from_field_text(*field, &t.text);
                    let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(q), *boost)),
                    ));
                }
            }
        }
        if clauses.is_empty() {
            None
        } else {
            Some(BooleanQuery::new(clauses))
        }
    }
}

/// Empties `dir` when it holds a previous index of ours (or garbage in its place).
fn clear_index_dir(dir: &Path) -> Result<()> {
    let io = |e| KbError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if entries.is_empty() {
        return Ok(());
    }
    let ours = entries.iter().any(|p| {
        matches!(
            p.file_name().and_then(|n| n.to_str()),
            Some(FINGERPRINT_FILE) | Some("meta.json") | Some(".managed.json")
        )
    });
    if !ours {
        return Err(KbError::InvalidGuide(format!(
            "{} is not empty and holds no search index; refusing to overwrite it",
            dir.display()
        )));
    }
    std::fs::remove_dir_all(dir).map_err(io)
}

impl Retriever for TantivyRetriever {
    fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let Some(q) = self.query(query) else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(RERANK_POOL).order_by_score())?;
        // Term-view score per item, then the sound score added: over every item of a
        // small guide, over the term-view hits of a large one.
        let n = self.sound.items.len();
        let mut scored: Vec<(usize, f32)> = Vec::with_capacity(n.min(RERANK_POOL * 2));
        let mut in_pool = vec![false; n];
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let id = doc
                .get_first(self.fields.id)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            if let Some(&i) = self.sound.by_id.get(id) {
                in_pool[i] = true;
                scored.push((i, score));
            }
        }
        if n <= SOUND_SCAN_ALL {
            scored.extend((0..n).filter(|&i| !in_pool[i]).map(|i| (i, 0.0)));
        }
        let syl = syllables(query);
        if !syl.is_empty() && self.sound.names.len() == n {
            for (i, s) in &mut scored {
                let heard = self.sound.names.score_misheard(*i, &syl);
                *s += SOUND_WEIGHT * (heard - SOUND_FLOOR).max(0.0);
            }
        }
        Ok(ranked_hits(&self.sound.items, scored, k))
    }
}

/// The best `k` of `scored` (item index in `items`, score) as hits, best first, ties in
/// guide order, each with its confidence among the top of the ranking; items that
/// scored nothing are left out.
pub(crate) fn ranked_hits(
    items: &[(String, String)],
    mut scored: Vec<(usize, f32)>,
    k: usize,
) -> Vec<Hit> {
    scored.retain(|(_, s)| *s > 0.0);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k.max(CONFIDENCE_POOL));
    let scores: Vec<f32> = scored.iter().map(|(_, s)| *s).collect();
    let conf = confidences(&scores);
    scored
        .into_iter()
        .zip(conf)
        .take(k)
        .map(|((i, score), confidence)| {
            let (id, title) = &items[i];
            Hit {
                id: id.clone(),
                title: title.clone(),
                score,
                confidence,
            }
        })
        .collect()
}

/// Confidence of each ranked score: a softmax whose temperature scales with the top
/// score (so only margins matter), damped when the top score itself is weak.
pub(crate) fn confidences(scores: &[f32]) -> Vec<f32> {
    let Some(&top) = scores.first() else {
        return Vec::new();
    };
    if !top.is_finite() || top <= 0.0 {
        return vec![0.0; scores.len()];
    }
    let t = TEMPERATURE_FRAC * top;
    let w: Vec<f32> = scores.iter().map(|s| ((s - top) / t).exp()).collect();
    let sum: f32 = w.iter().sum();
    let strength = 1.0 - (-top / SCORE_SCALE).exp();
    w.iter()
        .map(|x| (x / sum * strength).clamp(0.0, 1.0))
        .collect()
}

/// What to do with a ranked list.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Answer with this item.
    Answer(Hit),
    /// Ask which of the two was meant.
    Clarify {
        /// Best candidate.
        first: Hit,
        /// Runner-up.
        second: Hit,
        /// Short question naming both ("您是问居住证，还是居住证明？").
        question: String,
    },
    /// Nothing in the guide matches.
    NotFound,
}

/// Below this top score nothing in the guide is considered a match (off-topic questions
/// score under 8.5 on the shipped guide, 95 % of right answers over 30).
pub const MIN_SCORE: f32 = 9.0;
/// Below this confidence the resident is asked which of the top two they meant.
pub const MIN_CONFIDENCE: f32 = 0.45;
/// When the runner-up scores at least this fraction of the top score, ask.
pub const CLOSE_RATIO: f32 = 0.9;

/// Answer, clarify or give up, from hits ranked best first.
pub fn decide(hits: &[Hit]) -> Decision {
    let Some(first) = hits.first() else {
        return Decision::NotFound;
    };
    if first.score.is_nan() || first.score < MIN_SCORE {
        return Decision::NotFound;
    }
    if let Some(second) = hits.get(1) {
        let close = second.score >= CLOSE_RATIO * first.score;
        if close || first.confidence < MIN_CONFIDENCE {
            return Decision::Clarify {
                first: first.clone(),
                second: second.clone(),
                question: format!(
                    "您是问{}，还是{}？",
                    spoken_title(&first.title),
                    spoken_title(&second.title)
                ),
            };
        }
    }
    Decision::Answer(first.clone())
}

/// A title without its parenthesised explanation, for a short spoken question
/// ("老年人优待卡（敬老卡）" → "老年人优待卡").
pub fn spoken_title(title: &str) -> &str {
    title
        .split(['（', '('])
        .next()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERIES: &str = include_str!("../data/queries.tsv");

    fn guide() -> Guide {
        match Guide::builtin() {
            Ok(g) => g,
            Err(e) => panic!("builtin guide: {e}"),
        }
    }

    fn rows() -> Vec<(&'static str, &'static str, &'static str)> {
        QUERIES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("query\t") && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?, f.next()?, f.next()?))
            })
            .collect()
    }

    fn top(r: &dyn Retriever, q: &str) -> Result<Option<String>> {
        Ok(r.search(q, 3)?.first().map(|h| h.id.clone()))
    }

    #[test]
    fn recogniser_errors_still_find_the_item() -> Result<()> {
        let r = TantivyRetriever::in_ram(&guide())?;
        assert_eq!(top(&r, "敬老咖")?.as_deref(), Some("senior-card"));
        assert_eq!(top(&r, "低報")?.as_deref(), Some("minimum-living"));
        assert_eq!(
            top(&r, "我想办理頒離責抱卡")?.as_deref(),
            Some("social-security-card")
        );
        Ok(())
    }

    #[test]
    fn names_heard_with_wrong_characters_are_found_by_sound() -> Result<()> {
        // Made-up mishearings of the kind Whisper base makes on synthetic Mandarin: 社保卡
        // she bao ka heard as 身宝嘎, which shares a right character (身) with 身份证. By
        // terms alone 身份证 and 门禁 came first; by sound 社保卡 does.
        let r = TantivyRetriever::in_ram(&guide())?;
        assert_eq!(
            top(&r, "身宝嘎丢了")?.as_deref(),
            Some("social-security-card")
        );
        // 加装电梯 heard as 该装店体: found either way, now with a clear answer.
        match decide(&r.search("该装店体", 3)?) {
            Decision::Answer(h) => assert_eq!(h.id, "elevator-installation"),
            other => panic!("expected an answer, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn hits_are_ranked_with_confidence_in_range() -> Result<()> {
        let r = TantivyRetriever::in_ram(&guide())?;
        let hits = r.search("老人吃饭", 5)?;
        assert!(!hits.is_empty() && hits.len() <= 5);
        for w in hits.windows(2) {
            assert!(w[0].score >= w[1].score);
            assert!(w[0].confidence >= w[1].confidence);
        }
        assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.confidence)));
        assert!(r.search("老人吃饭", 0)?.is_empty());
        assert!(r.search("，。！", 3)?.is_empty());
        assert!(r.search("", 3)?.is_empty());
        Ok(())
    }

    #[test]
    fn clear_question_is_answered_and_vague_one_is_clarified() -> Result<()> {
        let r = TantivyRetriever::in_ram(&guide())?;
        match decide(&r.search("我妈六十岁了想办敬老卡", 3)?) {
            Decision::Answer(h) => assert_eq!(h.id, "senior-card"),
            other => panic!("expected an answer, got {other:?}"),
        }
        // 居住证 (permit) and 居住证明 (a certificate) sound alike: ask which.
        match decide(&r.search("居住证明", 3)?) {
            Decision::Clarify {
                first,
                second,
                question,
            } => {
                let ids = [first.id.as_str(), second.id.as_str()];
                assert!(ids.contains(&"certificate-issuance"), "{ids:?}");
                assert!(
                    question.starts_with("您是问") && question.contains("还是"),
                    "{question}"
                );
                assert!(
                    question.contains(&first.title)
                        || question.contains(spoken_title(&first.title))
                );
            }
            other => panic!("expected a clarifying question, got {other:?}"),
        }
        assert_eq!(decide(&[]), Decision::NotFound);
        Ok(())
    }

    #[test]
    fn off_topic_questions_are_not_answered() -> Result<()> {
        let r = TantivyRetriever::in_ram(&guide())?;
        for q in ["今天天气怎么样", "讲个笑话吧", "hello"] {
            let d = decide(&r.search(q, 3)?);
            assert!(!matches!(d, Decision::Answer(_)), "{q}: {d:?}");
        }
        Ok(())
    }

    #[test]
    fn index_dir_survives_garbage_and_follows_guide_changes() -> Result<()> {
        let g = guide();
        let tmp = tempfile::tempdir().map_err(KbError::Write)?;
        let dir = tmp.path().join("index");
        let r = TantivyRetriever::open_or_build(&g, &dir)?;
        assert_eq!(top(&r, "敬老卡")?.as_deref(), Some("senior-card"));
        drop(r);
        // Garbage over every index file: the next open rebuilds instead of failing.
        for e in std::fs::read_dir(&dir).map_err(KbError::Write)? {
            let p = e.map_err(KbError::Write)?.path();
            if p.file_name().and_then(|n| n.to_str()) != Some(FINGERPRINT_FILE) {
                std::fs::write(&p, b"\x00garbage not an index").map_err(KbError::Write)?;
            }
        }
        let r = TantivyRetriever::open_or_build(&g, &dir)?;
        assert_eq!(top(&r, "敬老卡")?.as_deref(), Some("senior-card"));
        drop(r);
        // A changed guide (new alias) is picked up by a rebuild.
        let mut g2 = g.clone();
        if let Some(i) = g2.items.iter_mut().find(|i| i.id == "dog-registration") {
            i.aliases.push("汪星人户口".into());
        }
        assert_ne!(g.fingerprint(), g2.fingerprint());
        let r = TantivyRetriever::open_or_build(&g2, &dir)?;
        assert_eq!(top(&r, "汪星人户口")?.as_deref(), Some("dog-registration"));
        drop(r);
        // Missing directory: built.
        std::fs::remove_dir_all(&dir).map_err(KbError::Write)?;
        let r = TantivyRetriever::open_or_build(&g, &dir)?;
        assert_eq!(top(&r, "低保")?.as_deref(), Some("minimum-living"));
        // A foreign, non-empty directory is not wiped.
        let foreign = tmp.path().join("photos");
        std::fs::create_dir_all(&foreign).map_err(KbError::Write)?;
        std::fs::write(foreign.join("a.jpg"), b"x").map_err(KbError::Write)?;
        assert!(TantivyRetriever::open_or_build(&g, &foreign).is_err());
        assert!(foreign.join("a.jpg").exists());
        Ok(())
    }

    #[test]
    fn queries_find_their_items() -> Result<()> {
        let g = guide();
        let r = TantivyRetriever::in_ram(&g)?;
        let rows = rows();
        assert!(rows.len() >= 150, "only {} queries", rows.len());
        let mut by_kind: std::collections::BTreeMap<&str, (usize, usize, usize)> =
            Default::default();
        let mut misses = Vec::new();
        for (q, expected, kind) in &rows {
            assert!(
                g.item(expected).is_some(),
                "unknown id {expected} in queries.tsv"
            );
            let hits = r.search(q, 3)?;
            let rank = hits.iter().position(|h| h.id == *expected);
            let e = by_kind.entry(kind).or_default();
            e.0 += 1;
            if rank == Some(0) {
                e.1 += 1;
            }
            if rank.is_some() {
                e.2 += 1;
            }
            if rank != Some(0) {
                misses.push(format!(
                    "{kind}\t{q}\t{expected}\t{:?}",
                    hits.iter()
                        .map(|h| (h.id.as_str(), h.score))
                        .collect::<Vec<_>>()
                ));
            }
        }
        for m in &misses {
            println!("miss: {m}");
        }
        let (mut n, mut r1, mut r3) = (0, 0, 0);
        for (kind, (kn, k1, k3)) in &by_kind {
            println!(
                "{kind:<10} n={kn:<4} recall@1={:.3} recall@3={:.3}",
                *k1 as f64 / *kn as f64,
                *k3 as f64 / *kn as f64
            );
            n += kn;
            r1 += k1;
            r3 += k3;
        }
        let (r1, r3) = (r1 as f64 / n as f64, r3 as f64 / n as f64);
        println!("overall    n={n:<4} recall@1={r1:.3} recall@3={r3:.3}");
        let mut right: Vec<f32> = Vec::new();
        for (q, expected, _) in &rows {
            let hits = r.search(q, 3)?;
            if let Some(h) = hits.first().filter(|h| h.id == *expected) {
                right.push(h.score);
            }
        }
        right.sort_by(f32::total_cmp);
        let pick = |p: f64| {
            right
                .get(((right.len() as f64 - 1.0) * p) as usize)
                .copied()
                .unwrap_or(0.0)
        };
        println!(
            "top-1 scores when right: min {:.1} p05 {:.1} p50 {:.1}; {} right answers under MIN_SCORE",
            pick(0.0),
            pick(0.05),
            pick(0.5),
            right.iter().filter(|s| **s < MIN_SCORE).count()
        );
        let mut decisions = (0, 0, 0);
        for (q, _, _) in &rows {
            match decide(&r.search(q, 3)?) {
                Decision::Answer(_) => decisions.0 += 1,
                Decision::Clarify { .. } => decisions.1 += 1,
                Decision::NotFound => decisions.2 += 1,
            }
        }
        println!(
            "decisions: answer {} clarify {} not-found {}",
            decisions.0, decisions.1, decisions.2
        );
        for q in [
            "今天天气怎么样",
            "讲个笑话吧",
            "hello",
            "你叫什么名字",
            "附近有什么好吃的",
        ] {
            let h = r.search(q, 2)?;
            println!(
                "off-topic {q}: {:?}",
                h.iter()
                    .map(|h| (h.id.as_str(), h.score, h.confidence))
                    .collect::<Vec<_>>()
            );
        }
        assert!(r1 >= 0.85, "recall@1 {r1:.3}");
        assert!(r3 >= 0.95, "recall@3 {r3:.3}");
        let (gn, _, g3) = by_kind.get("garbled").copied().unwrap_or((1, 0, 0));
        assert!(g3 as f64 / gn as f64 >= 0.80, "garbled recall@3");
        Ok(())
    }
}
