//! Text views used by the index: jieba words, character bigrams, tone-less pinyin.
//!
//! Every view works on Simplified text ([`simplify`]), so a Traditional query (低報)
//! meets a Simplified guide (低保). The pinyin views make wrong characters with the
//! right sound (敬老咖 for 敬老卡) still meet: syllables are folded the way southern
//! speakers and the recogniser confuse them (zh/z, ch/c, sh/s, n/l, -ng/-n after i/e).

use std::sync::OnceLock;

use pinyin::ToPinyin;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Tokenizer name of the jieba word view.
pub(crate) const WORDS: &str = "xa_words";
/// Tokenizer name of the character bigram view.
pub(crate) const BIGRAMS: &str = "xa_bigrams";
/// Tokenizer name of the pinyin syllable-pair view.
pub(crate) const PINYIN_PAIRS: &str = "xa_pinyin2";
/// Tokenizer name of the pinyin single-syllable view.
pub(crate) const PINYIN_SYLLABLES: &str = "xa_pinyin1";

/// Words that carry no meaning for finding an item (the resident's framing).
const STOP_WORDS: &[&str] = &[
    "我",
    "我们",
    "你",
    "您",
    "你们",
    "他",
    "她",
    "想",
    "想要",
    "要",
    "办",
    "办理",
    "办个",
    "的",
    "了",
    "吗",
    "呢",
    "啊",
    "呀",
    "吧",
    "嘛",
    "怎么",
    "怎么办",
    "怎样",
    "如何",
    "在",
    "哪里",
    "哪儿",
    "哪",
    "什么",
    "请问",
    "你好",
    "可以",
    "能",
    "能不能",
    "需要",
    "一下",
    "个",
    "这个",
    "那个",
    "是",
    "有",
    "去",
    "给",
    "帮",
    "帮我",
    "问",
    "问问",
    "咨询",
    "一个",
    "还",
    "也",
    "都",
    "和",
    "跟",
    "就",
    "又",
    "麻烦",
    "那",
    "这",
    "得",
    "地",
    "着",
    "过",
    "到",
    "把",
    "被",
    "让",
    "叫",
    "说",
];

/// Converts to Simplified Chinese and half-width, lower case.
pub(crate) fn simplify(text: &str) -> String {
    let half: String = text
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    zhconv::zhconv(&half, zhconv::Variant::ZhHans).to_lowercase()
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

fn is_word_char(c: char) -> bool {
    is_han(c) || c.is_alphanumeric()
}

/// Folds a plain pinyin syllable so that commonly confused sounds meet.
pub(crate) fn fold_syllable(s: &str) -> String {
    let mut s = s.replace('ü', "v");
    for (from, to) in [("zh", "z"), ("ch", "c"), ("sh", "s")] {
        if let Some(rest) = s.strip_prefix(from) {
            s = format!("{to}{rest}");
            break;
        }
    }
    if let Some(rest) = s.strip_prefix('n') {
        if !rest.is_empty() && !rest.starts_with('g') {
            s = format!("l{rest}");
        }
    }
    if s.ends_with("ing") || s.ends_with("eng") {
        s.pop();
    }
    s
}

/// Folded pinyin syllables of the Han characters of `text` (other characters are skipped,
/// runs of non-Han text break syllable pairs: `None` marks a break).
pub(crate) fn syllables(text: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for (c, p) in text.chars().zip(text.to_pinyin()) {
        match p {
            Some(p) => out.push(Some(fold_syllable(p.plain()))),
            None if is_han(c) => out.push(None),
            None => {
                if out.last().is_some_and(|l: &Option<String>| l.is_some()) {
                    out.push(None);
                }
            }
        }
    }
    out
}

/// A token stream over a precomputed list of tokens.
pub(crate) struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
    /// Returned if `token()` is called before `advance()` or on an empty stream.
    none: Token,
}

impl VecTokenStream {
    fn new(texts: Vec<String>) -> Self {
        let tokens = texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| Token {
                offset_from: 0,
                offset_to: 0,
                position: i,
                text,
                position_length: 1,
            })
            .collect();
        VecTokenStream {
            tokens,
            next: 0,
            none: Token::default(),
        }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        self.next
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&self.none)
    }
    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(i) if i < self.tokens.len() => &mut self.tokens[i],
            _ => &mut self.none,
        }
    }
}

/// Jieba search-mode words (through tantivy-jieba), without punctuation and stop words.
#[derive(Clone)]
pub(crate) struct WordsTokenizer {
    jieba: tantivy_jieba::JiebaTokenizer,
}

impl WordsTokenizer {
    pub(crate) fn new() -> Self {
        WordsTokenizer {
            jieba: tantivy_jieba::JiebaTokenizer::with_search_mode(true),
        }
    }
}

/// Jieba words of `text`, after [`simplify`], without stop words.
pub(crate) fn words(jieba: &mut tantivy_jieba::JiebaTokenizer, text: &str) -> Vec<String> {
    let text = simplify(text);
    let mut stream = jieba.token_stream(&text);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token().text.trim();
        if t.chars().any(is_word_char) && !STOP_WORDS.contains(&t) {
            out.push(t.to_string());
        }
    }
    out
}

impl Tokenizer for WordsTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(words(&mut self.jieba, text))
    }
}

/// Character bigrams of Han runs (a lone character is kept as a unigram);
/// runs of letters and digits are kept whole.
pub(crate) fn bigrams(text: &str) -> Vec<String> {
    let text = simplify(text);
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_string()),
            _ => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
        run.clear();
    };
    for c in text.chars() {
        if is_han(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.push(c);
        } else {
            flush_run(&mut run, &mut out);
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        }
    }
    flush_run(&mut run, &mut out);
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Character bigram tokenizer.
#[derive(Clone)]
pub(crate) struct BigramTokenizer;

impl Tokenizer for BigramTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(bigrams(text))
    }
}

/// Syllable sequences of the multi-character stop words (办理 → ban li): a garbled 頒離
/// must not match every item that mentions 办理. Single characters are kept, since
/// their syllables are shared by too many meaningful words.
fn stop_sequences() -> &'static Vec<Vec<String>> {
    static SEQ: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    SEQ.get_or_init(|| {
        let mut v: Vec<Vec<String>> = STOP_WORDS
            .iter()
            .filter(|w| w.chars().count() >= 2)
            .map(|w| syllables(w).into_iter().flatten().collect::<Vec<_>>())
            .filter(|s: &Vec<String>| s.len() >= 2)
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        v
    })
}

/// Folded syllables of `text` with stop-word sound sequences blanked out (`None`).
pub(crate) fn content_syllables(text: &str) -> Vec<Option<String>> {
    let mut syl = syllables(&simplify(text));
    let stops = stop_sequences();
    let mut i = 0;
    while i < syl.len() {
        let hit = stops.iter().find(|seq| {
            seq.len() <= syl.len() - i
                && seq
                    .iter()
                    .zip(&syl[i..])
                    .all(|(a, b)| b.as_deref() == Some(a.as_str()))
        });
        match hit {
            Some(seq) => {
                let n = seq.len();
                for s in &mut syl[i..i + n] {
                    *s = None;
                }
                i += n;
            }
            None => i += 1,
        }
    }
    syl
}

/// Adjacent folded pinyin syllable pairs (`jin_lao`), stop-word sounds left out.
pub(crate) fn pinyin_pairs(text: &str) -> Vec<String> {
    content_syllables(text)
        .windows(2)
        .filter_map(|w| match (&w[0], &w[1]) {
            (Some(a), Some(b)) => Some(format!("{a}_{b}")),
            _ => None,
        })
        .collect()
}

/// Folded pinyin syllables.
pub(crate) fn pinyin_syllables(text: &str) -> Vec<String> {
    content_syllables(text).into_iter().flatten().collect()
}

/// Pinyin syllable-pair tokenizer.
#[derive(Clone)]
pub(crate) struct PinyinPairTokenizer;

impl Tokenizer for PinyinPairTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(pinyin_pairs(text))
    }
}

/// Pinyin single-syllable tokenizer.
#[derive(Clone)]
pub(crate) struct PinyinSyllableTokenizer;

impl Tokenizer for PinyinSyllableTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream::new(pinyin_syllables(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_and_wrong_characters_share_pinyin_pairs() {
        assert!(pinyin_pairs("低報").contains(&"di_bao".to_string()));
        let a = pinyin_pairs("敬老咖");
        let b = pinyin_pairs("敬老卡");
        assert_eq!(a, b);
        assert!(pinyin_pairs("頒離責抱卡").contains(&"bao_ka".to_string()));
    }

    #[test]
    fn bigrams_skip_punctuation_and_keep_numbers() {
        assert_eq!(bigrams("社保卡，12345"), vec!["社保", "保卡", "12345"]);
        assert_eq!(bigrams("卡"), vec!["卡"]);
    }

    #[test]
    fn words_drop_framing() {
        let mut j = tantivy_jieba::JiebaTokenizer::new();
        let w = words(&mut j, "我想办理社保卡");
        assert!(w.iter().any(|t| t.contains("社保")), "{w:?}");
        assert!(
            !w.contains(&"我".to_string()) && !w.contains(&"办理".to_string()),
            "{w:?}"
        );
    }

    #[test]
    fn folding_merges_confusable_initials() {
        assert_eq!(fold_syllable("zhi"), fold_syllable("zi"));
        assert_eq!(fold_syllable("nao"), fold_syllable("lao"));
        assert_eq!(fold_syllable("jing"), "jin");
        assert_eq!(fold_syllable("nü"), "lv");
    }
}
