//! Answers from the service guide: the spoken summary first, then the details chunk by
//! chunk on request; two close items asked apart; a guessed item confirmed first.

use xiaoan_intents::{Intent, Understanding};
use xiaoan_kb::{spoken_title, ChunkKind, Decision, Hit};

use super::state::Flow;
use crate::dialogue::reply::Reply;
use crate::dialogue::session::Session;
use crate::dialogue::Agent;

/// Answer from the guide: the spoken summary, then an offer of details.
pub fn answer_question(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    let hits = a
        .retriever
        .search(&u.normalized.text, 3)
        .unwrap_or_default();
    match xiaoan_kb::decide(&hits) {
        Decision::Answer(hit) => answer_item(a, s, &hit.id),
        Decision::Clarify {
            first,
            second,
            question,
        } => {
            s.flow = Flow::ClarifyItem {
                first: first.id,
                second: second.id,
            };
            Reply::say(question)
        }
        Decision::NotFound => {
            Reply::say("这个我没找到。您可以换个说法，比如“敬老卡怎么办”，或者说“找工作人员”。")
        }
    }
}

/// A guide item's first answer, with its details offered when it has any.
fn answer_item(a: &Agent, s: &mut Session, id: &str) -> Reply {
    match a.guide.item(id) {
        Some(item) => {
            let chunks = item.chunks();
            s.flow = if chunks.is_empty() {
                Flow::Idle
            } else {
                Flow::Details {
                    item: id.to_string(),
                    next: 0,
                }
            };
            let mut r = Reply::say(item.first_answer());
            r.flow = "service".into();
            r
        }
        None => Reply::say("这个我没找到，您可以说“找工作人员”。"),
    }
}

/// Detail chunk `next` of the item, offering the one after it (or saying that was all).
fn next_chunk(a: &Agent, s: &mut Session, item_id: &str, next: usize) -> Reply {
    let Some(item) = a.guide.item(item_id) else {
        s.flow = Flow::Idle;
        return Reply::say("好的。还有别的要问吗？");
    };
    let chunks = item.chunks();
    match chunks.get(next) {
        Some(c) => {
            let more = next + 1 < chunks.len();
            s.flow = if more {
                Flow::Details {
                    item: item_id.to_string(),
                    next: next + 1,
                }
            } else {
                Flow::Idle
            };
            let tail = if more {
                c.offer.clone()
            } else {
                "就这些。还有别的要问吗？".to_string()
            };
            let mut r = Reply::say(format!("{}{}", c.text, tail));
            r.flow = "service".into();
            r
        }
        None => {
            s.flow = Flow::Idle;
            Reply::say("就这些。还有别的要问吗？")
        }
    }
}

/// Unsure words that sound like a guide item ([`crate::route::read`] guessed it): one
/// short yes/no question naming the item, e.g. "您是想问“老年人优待卡”吗？". Nothing is
/// answered or started until the resident says yes.
pub fn confirm_item(s: &mut Session, hit: &Hit) -> Reply {
    s.flow = Flow::ConfirmItem {
        item: hit.id.clone(),
    };
    Reply::say(format!("您是想问“{}”吗？", spoken_title(&hit.title)))
}

/// The answer to "要继续听吗": yes gives the next chunk; "材料呢" / "在哪办" the chunk
/// asked for; a question naming another service (or anything else) ends the details
/// and is handled as a new request (`None`).
pub(super) fn details_turn(
    a: &Agent,
    s: &mut Session,
    item: &str,
    next: usize,
    u: &Understanding,
) -> Option<Reply> {
    match u.intent.intent {
        Intent::ConfirmYes => Some(next_chunk(a, s, item, next)),
        Intent::ConfirmNo => {
            s.flow = Flow::Idle;
            Some(Reply::say("好的。还有别的要问吗？"))
        }
        _ => {
            // a question naming another service ("社保卡丢了咋个办" after 居住证明):
            // a new question, answered as one
            if names_other_item(a, item, &u.normalized.text) {
                s.flow = Flow::Idle;
                return None;
            }
            // "材料呢" / "在哪办" about the same item: jump to that chunk
            if let Some(i) = asked_chunk_of(a, item, &u.normalized.text) {
                return Some(next_chunk(a, s, item, i));
            }
            s.flow = Flow::Idle;
            None
        }
    }
}

/// Which of the item's chunks the words ask for ("材料呢" → the materials).
fn asked_chunk_of(a: &Agent, item: &str, text: &str) -> Option<usize> {
    let k = asked_chunk(text)?;
    a.guide
        .item(item)?
        .chunks()
        .iter()
        .position(|c| c.kind == k)
}

/// The answer to "您是问 A 还是 B": the item named (or "第一个"), or the first on a
/// bare yes; anything else is a new request (`None`).
pub(super) fn clarify_item_turn(
    a: &Agent,
    s: &mut Session,
    first: &str,
    second: &str,
    u: &Understanding,
) -> Option<Reply> {
    let pick = pick_between(a, &u.normalized.text, first, second);
    s.flow = Flow::Idle;
    match pick {
        Some(id) => Some(answer_item(a, s, &id)),
        None if u.intent.intent == Intent::ConfirmYes => Some(answer_item(a, s, first)),
        None => None,
    }
}

/// The answer to "您是想问“…”吗": yes answers it, no asks again; anything else (often
/// the question said again) is handled as usual (`None`).
pub(super) fn confirm_item_turn(
    a: &Agent,
    s: &mut Session,
    item: &str,
    u: &Understanding,
) -> Option<Reply> {
    s.flow = Flow::Idle;
    match u.intent.intent {
        Intent::ConfirmYes => Some(answer_item(a, s, item)),
        Intent::ConfirmNo => Some(Reply::say("好的，是我没听清。请您再说一遍，想问什么事？")),
        _ => None,
    }
}

/// A guide item's title and aliases (none for an unknown id).
fn item_names(a: &Agent, id: &str) -> Vec<String> {
    a.guide
        .item(id)
        .map(|i| {
            let mut v = vec![i.title.clone()];
            v.extend(i.aliases.iter().cloned());
            v
        })
        .unwrap_or_default()
}

/// Do the words name a guide item other than `item` (its title or an alias, or a strong
/// retrieval hit)?
fn names_other_item(a: &Agent, item: &str, text: &str) -> bool {
    let names = |id: &str| item_names(a, id);
    if names(item)
        .iter()
        .any(|n| n.chars().count() >= 2 && text.contains(n.as_str()))
    {
        return false;
    }
    let Ok(hits) = a.retriever.search(text, 1) else {
        return false;
    };
    hits.first().is_some_and(|h| {
        h.id != item
            && (h.confidence >= 0.5
                || names(&h.id)
                    .iter()
                    .any(|n| n.chars().count() >= 2 && text.contains(n.as_str())))
    })
}

/// The kind of detail the words ask for: materials, steps, or where and when.
fn asked_chunk(text: &str) -> Option<ChunkKind> {
    if ["材料", "带什么", "要带", "证件"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(ChunkKind::Materials)
    } else if ["步骤", "流程", "怎么办", "咋办"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(ChunkKind::Steps)
    } else if ["在哪", "哪里", "几点", "时间", "地址", "窗口"]
        .iter()
        .any(|w| text.contains(w))
    {
        Some(ChunkKind::WhereWhen)
    } else {
        None
    }
}

/// Which of two items the words pick: the one whose name they hold (the longer match),
/// or "第一个" / "后面那个".
fn pick_between(a: &Agent, text: &str, first: &str, second: &str) -> Option<String> {
    let names = |id: &str| item_names(a, id);
    let score = |id: &str| {
        names(id)
            .iter()
            .filter(|n| !n.is_empty() && (text.contains(n.as_str()) || n.contains(text)))
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
    };
    let (f, sc) = (score(first), score(second));
    if f == 0 && sc == 0 {
        if text.contains("第一") || text.contains("前面") {
            return Some(first.to_string());
        }
        if text.contains("第二") || text.contains("后面") {
            return Some(second.to_string());
        }
        return None;
    }
    Some(if f >= sc { first } else { second }.to_string())
}
