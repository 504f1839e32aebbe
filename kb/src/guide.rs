//! The service guide as data: one TOML file per item plus `centre.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{KbError, Result};

/// Name of the centre file inside a guide directory.
pub const CENTRE_FILE: &str = "centre.toml";

/// Bumped whenever the index layout changes, so that old indexes are rebuilt.
pub(crate) const FORMAT_VERSION: &str = "xiaoan-kb-index-v1";

/// Most sentences a spoken summary may have.
pub const SUMMARY_MAX_SENTENCES: usize = 2;
/// Most characters a spoken summary may have (two short sentences read in ~8 s).
pub const SUMMARY_MAX_CHARS: usize = 64;

/// The whole service guide: its items and the centre they are served at.
#[derive(Clone, Debug, Serialize)]
pub struct Guide {
    /// Items, sorted by id.
    pub items: Vec<Item>,
    /// The centre: sites, hours, accessible window, emergency contacts.
    pub centre: Centre,
}

/// One service item of the guide.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable id, as in the catalogue (`senior-card`); equals the file stem.
    pub id: String,
    /// Short spoken title (敬老卡).
    pub title: String,
    /// How residents say it in Mandarin (老人卡, 免费乘车卡).
    pub aliases: Vec<String>,
    /// Dialect written forms (長者卡, 老人咭), searched like aliases.
    #[serde(default)]
    pub dialect_aliases: Vec<String>,
    /// Category (户籍证件, 社会保障, 养老助老 ...).
    pub category: String,
    /// `high-frequency` or `comprehensive`.
    pub kind: String,
    /// Who may apply.
    pub eligibility: String,
    /// What to bring.
    pub materials: Vec<String>,
    /// How it goes, in order.
    pub steps: Vec<String>,
    /// Where it is handled.
    pub location: Location,
    /// When it is handled.
    pub hours: String,
    /// How long it takes.
    pub processing_time: String,
    /// What it costs.
    pub fee: String,
    /// 承诺制 / 容缺受理 terms, when they apply.
    #[serde(default)]
    pub commitment: Option<Commitment>,
    /// Online options (app, mini-program, website).
    pub online: String,
    /// Cross-province (跨省通办) options.
    pub cross_province: String,
    /// Ids of related items.
    #[serde(default)]
    pub related: Vec<String>,
    /// Spoken summary: at most two short sentences.
    pub summary: String,
}

/// Where an item is handled.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Zone of the main hall (B区·社会保障).
    pub zone: String,
    /// Window (3号窗口).
    pub window: String,
    /// What the grid stations do for this item.
    pub grid_station: String,
}

/// 承诺制 / 容缺受理: accepted now, some materials later.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Commitment {
    /// 承诺制, 告知承诺制 or 容缺受理.
    pub kind: String,
    /// What the resident promises, in one or two sentences.
    pub terms: String,
    /// Materials that may be supplied later.
    pub later: Vec<String>,
    /// By when they must be supplied.
    pub deadline: String,
}

/// The centre: 1 main hall + grid stations + micro-sites, hours, contacts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Centre {
    /// Name (XX社区党群服务中心).
    pub name: String,
    /// Says that the content is a plausible example for a generic community.
    pub note: String,
    /// The main hall.
    pub main_hall: Site,
    /// Grid stations (网格服务站).
    pub grid_stations: Vec<Site>,
    /// Micro-sites (微站点) in buildings, shops, parks.
    #[serde(default)]
    pub micro_sites: Vec<Site>,
    /// The "8+X" opening hours.
    pub hours: Hours,
    /// The accessible window (无障碍服务专窗).
    pub accessible_window: AccessibleWindow,
    /// The centre's duty phone.
    pub duty_phone: String,
    /// Emergency contacts (120, 110, 119, the duty phone ...).
    pub emergency: Vec<Contact>,
}

/// A place where services are offered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Name.
    pub name: String,
    /// Address, as said to a resident.
    pub address: String,
    /// What is offered there.
    #[serde(default)]
    pub services: String,
    /// Opening hours when they differ from the centre's.
    #[serde(default)]
    pub hours: String,
}

/// "8+X": eight hours of regular service plus extended and appointment hours.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// The eight regular hours.
    pub regular: String,
    /// The "X": lunch-time, evening and weekend extensions.
    pub extended: Vec<String>,
    /// Service by appointment outside those hours.
    pub appointment: String,
}

/// The accessible window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct AccessibleWindow {
    /// Window name (1号窗口·无障碍服务专窗).
    pub window: String,
    /// How to get there.
    pub location: String,
    /// Who it serves and how.
    pub services: Vec<String>,
}

/// An emergency contact.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Who (急救, 报警, 火警, 中心值班).
    pub name: String,
    /// Number to dial.
    pub number: String,
    /// When to call.
    pub when: String,
}

mod builtin_files {
    include!(concat!(env!("OUT_DIR"), "/builtin_guide.rs"));
}

/// The shipped catalogue (`kb/catalog.tsv`): id, kind, name, scope.
pub const CATALOG_TSV: &str = include_str!("../catalog.tsv");

/// The catalogue's ids, in catalogue order.
pub fn catalog_ids() -> Vec<&'static str> {
    CATALOG_TSV
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|id| !id.trim().is_empty())
        .collect()
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn parse_err(path: &Path, text: &str, e: toml::de::Error) -> KbError {
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
    KbError::Parse {
        path: path.to_path_buf(),
        line,
        reason: e.message().trim().to_string(),
    }
}

impl Guide {
    /// Loads every `*.toml` of `dir`: `centre.toml` and one file per item.
    pub fn load_dir(dir: &Path) -> Result<Guide> {
        let files = read_toml_files(dir)?;
        Guide::from_sources(files)
    }

    /// The guide shipped in `kb/guide`, embedded in the binary.
    pub fn builtin() -> Result<Guide> {
        let files = builtin_files::FILES
            .iter()
            .map(|(name, text)| (PathBuf::from("kb/guide").join(name), text.to_string()))
            .collect();
        Guide::from_sources(files)
    }

    /// Builds a guide from (path, text) pairs; the file named `centre.toml` is the centre.
    pub fn from_sources(files: Vec<(PathBuf, String)>) -> Result<Guide> {
        let mut items = Vec::new();
        let mut centre = None;
        for (path, text) in &files {
            let is_centre = path.file_name().and_then(|n| n.to_str()) == Some(CENTRE_FILE);
            if is_centre {
                let c: Centre = toml::from_str(text).map_err(|e| parse_err(path, text, e))?;
                centre = Some(c);
            } else {
                let item: Item = toml::from_str(text).map_err(|e| parse_err(path, text, e))?;
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if item.id != stem {
                    return Err(KbError::Parse {
                        path: path.clone(),
                        line: 1,
                        reason: format!("id `{}` differs from the file name `{stem}`", item.id),
                    });
                }
                items.push(item);
            }
        }
        let centre = centre
            .ok_or_else(|| KbError::InvalidGuide(format!("no {CENTRE_FILE} in the guide")))?;
        items.sort_by(|a, b| a.id.cmp(&b.id));
        for w in items.windows(2) {
            if w[0].id == w[1].id {
                return Err(KbError::InvalidGuide(format!(
                    "duplicate item id `{}`",
                    w[0].id
                )));
            }
        }
        if items.is_empty() {
            return Err(KbError::InvalidGuide("the guide has no items".into()));
        }
        Ok(Guide { items, centre })
    }

    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items
            .binary_search_by(|i| i.id.as_str().cmp(id))
            .ok()
            .and_then(|i| self.items.get(i))
            .or_else(|| self.items.iter().find(|i| i.id == id))
    }

    /// SHA-256 (hex) over the guide's content and the index format version:
    /// changes whenever a guide file changes in a way that matters to the index.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(FORMAT_VERSION.as_bytes());
        for item in &self.items {
            h.update(serde_json::to_vec(item).unwrap_or_default());
            h.update([0u8]);
        }
        h.update(serde_json::to_vec(&self.centre).unwrap_or_default());
        hex::encode(h.finalize())
    }
}

/// Reads every `*.toml` file of `dir`, sorted by name.
pub(crate) fn read_toml_files(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let io = |e| KbError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml") && p.is_file())
        .collect();
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| KbError::Io {
            path: p.clone(),
            source: e,
        })?;
        out.push((p, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_guide_has_exactly_the_catalogue_ids() -> Result<()> {
        let g = Guide::builtin()?;
        let mut ids: Vec<&str> = g.items.iter().map(|i| i.id.as_str()).collect();
        let mut cat = catalog_ids();
        ids.sort();
        cat.sort();
        assert_eq!(cat.len(), 47);
        assert_eq!(ids, cat);
        for line in CATALOG_TSV.lines().skip(1) {
            let mut f = line.split('\t');
            if let (Some(id), Some(kind)) = (f.next(), f.next()) {
                assert_eq!(g.item(id).map(|i| i.kind.as_str()), Some(kind), "{id}");
            }
        }
        Ok(())
    }

    #[test]
    fn load_dir_equals_builtin_and_fingerprint_tracks_content() -> Result<()> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("guide");
        let a = Guide::load_dir(&dir)?;
        let b = Guide::builtin()?;
        assert_eq!(a.items, b.items);
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut c = b.clone();
        c.items[0].summary.push('。');
        assert_ne!(c.fingerprint(), b.fingerprint());
        Ok(())
    }

    #[test]
    fn centre_describes_sites_hours_and_contacts() -> Result<()> {
        let c = Guide::builtin()?.centre;
        assert_eq!(c.grid_stations.len(), 6);
        assert!(!c.micro_sites.is_empty());
        assert!(c.note.contains("XX社区"));
        assert!(!c.hours.extended.is_empty());
        for n in ["120", "110", "119"] {
            assert!(c.emergency.iter().any(|e| e.number == n), "{n}");
        }
        assert!(c.emergency.iter().any(|e| e.number == c.duty_phone));
        assert!(c.accessible_window.window.contains("无障碍"));
        Ok(())
    }

    #[test]
    fn broken_file_is_a_clear_error_with_line() {
        let tmp = match tempfile::tempdir() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("guide");
        for f in ["centre.toml", "dog-registration.toml"] {
            let text = std::fs::read_to_string(src.join(f)).unwrap_or_default();
            let text = text.replace("fee = ", "feee = ");
            if let Err(e) = std::fs::write(tmp.path().join(f), text) {
                panic!("{e}");
            }
        }
        match Guide::load_dir(tmp.path()) {
            Err(KbError::Parse { path, line, reason }) => {
                assert!(path.ends_with("dog-registration.toml"));
                assert!(line > 1, "{line}");
                assert!(reason.contains("feee"), "{reason}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert!(Guide::load_dir(&tmp.path().join("missing")).is_err());
    }
}
