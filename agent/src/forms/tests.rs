//! Forms: the built-ins load, answers are checked against a fixed today, triage.

use chrono::NaiveDate;

use super::checks::{ID_CHECK, ID_WEIGHTS};
use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

/// Make a valid ID from a 17-digit body by computing its check character.
fn with_check(body: &str) -> String {
    let sum: u32 = body
        .chars()
        .zip(ID_WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{body}{}", ID_CHECK[(sum % 11) as usize] as char)
}

#[test]
fn every_builtin_form_loads_with_its_catalogue_id() {
    let forms = Forms::builtin().unwrap();
    for id in [
        "birth-registration",
        "residence-registration",
        "property-transfer",
        "certificate-issuance",
    ] {
        let f = forms.get(id).unwrap_or_else(|| panic!("missing {id}"));
        assert!(!f.fields.is_empty() && !f.commitment.is_empty());
        assert!(
            f.fields
                .iter()
                .all(|d| d.ask.ends_with('？') || d.ask.ends_with('。')),
            "{id}: asks are spoken sentences"
        );
    }
    // 容缺 forms say what may come later.
    assert!(!forms.get("property-transfer").unwrap().deferred.is_empty());
    assert!(!forms.get("birth-registration").unwrap().deferred.is_empty());
}

#[test]
fn mediation_definition_loads_and_triages() {
    let m = Mediation::builtin().unwrap();
    for id in [
        "noise", "leaks", "parking", "property", "elevator", "family", "wages", "other",
    ] {
        assert!(m.kind(id).is_some(), "missing kind {id}");
    }
    assert_eq!(m.classify("楼上天天半夜吵，还在家里跺脚").id, "noise");
    assert_eq!(m.classify("楼上卫生间漏水，我家天花板都湿了").id, "leaks");
    assert_eq!(m.classify("老板三个月没发工资").id, "wages");
    assert_eq!(m.classify("我想说说这个事情").id, "other");
    assert!(m.is_danger("他说要打死我"));
    assert!(!m.is_danger("楼上太吵了"));
}

#[test]
fn mediator_offers_skip_taken_and_past() {
    let m = MediatorSlots::default(); // Tue/Thu 14-17, hourly
                                      // 2026-11-29 is a Sunday; next Tuesday is 12-01.
    let after = today().and_hms_opt(10, 0, 0).unwrap();
    let first = NaiveDate::from_ymd_opt(2026, 12, 1)
        .unwrap()
        .and_hms_opt(14, 0, 0)
        .unwrap();
    let offers = m.offers(after, &[], 4);
    assert_eq!(offers.len(), 4);
    assert_eq!(offers[0].start, first);
    let taken = vec![(offers[0].mediator.clone(), first)];
    let offers2 = m.offers(after, &taken, 1);
    assert_eq!(offers2[0].start, first + chrono::Duration::hours(1));
}

#[test]
fn a_broken_form_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("my-form.toml");
    std::fs::write(&p, "id = \"my-form\"\ntitle = \"测试\"\ncommitment = \"我承诺。\"\n[[fields]]\nname = \"a\"\nlable = \"x\"\n").unwrap();
    let e = Forms::with_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("my-form.toml"), "{e}");
    assert!(e.contains("lable"), "{e}");

    std::fs::write(&p, "id = \"my-form\"\ntitle = \"测试\"\ncommitment = \"我承诺。\"\n[[fields]]\nname = \"a\"\nlabel = \"性别\"\nkind = \"choice\"\nask = \"性别？\"\n").unwrap();
    let e = Forms::with_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("my-form.toml") && e.contains("no choices"),
        "{e}"
    );
}

#[test]
fn a_centre_form_replaces_the_builtin_with_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let text = include_str!("../../forms/certificate-issuance.toml")
        .replace("title = \"证明事项告知承诺\"", "title = \"本社区证明\"");
    std::fs::write(dir.path().join("cert.toml"), text).unwrap();
    let forms = Forms::with_dir(dir.path()).unwrap();
    assert_eq!(forms.len(), 4);
    assert_eq!(
        forms.get("certificate-issuance").unwrap().title,
        "本社区证明"
    );
}

#[test]
fn id_numbers_are_checked_by_gb11643() {
    let f = Forms::builtin().unwrap();
    let form = f.get("birth-registration").unwrap();
    let good = with_check("11010519491231002");
    assert_eq!(good, "11010519491231002X");
    assert_eq!(
        form.validate_on("mother_id", "11010519491231002x", today())
            .unwrap(),
        good
    );
    assert_eq!(
        form.validate_on("mother_id", "110105 19491231 002X", today())
            .unwrap(),
        good
    );
    let bad = form
        .validate_on("mother_id", "110105194912310021", today())
        .unwrap_err();
    assert!(bad.contains("校验不对"), "{bad}");
    assert!(form
        .validate_on("mother_id", "11010519491231", today())
        .unwrap_err()
        .contains("18位"));
    // A valid checksum with an impossible birth date is still refused.
    let bad_date = with_check("11010519491331002");
    assert!(form
        .validate_on("mother_id", &bad_date, today())
        .unwrap_err()
        .contains("出生日期"));
}

#[test]
fn phones_dates_names_counts_choices() {
    let forms = Forms::builtin().unwrap();
    let b = forms.get("birth-registration").unwrap();
    assert_eq!(
        b.validate_on("mother_phone", "+86 138-0013-8000", today())
            .unwrap(),
        "13800138000"
    );
    assert!(b
        .validate_on("mother_phone", "12800138000", today())
        .unwrap_err()
        .contains("11位"));
    assert!(b
        .validate_on("mother_phone", "1380013800", today())
        .is_err());
    assert_eq!(
        b.validate_on("baby_birth_date", "2026年11月3日", today())
            .unwrap(),
        "2026-11-03"
    );
    let fut = b
        .validate_on("baby_birth_date", "2026-12-01", today())
        .unwrap_err();
    assert!(fut.contains("不能晚于今天"), "{fut}");
    assert!(b
        .validate_on("baby_birth_date", "2026-02-30", today())
        .is_err());
    assert_eq!(
        b.validate_on("mother_name", "王 小明", today()).unwrap(),
        "王小明"
    );
    assert!(b.validate_on("mother_name", "王1明", today()).is_err());
    assert_eq!(
        b.validate_on("mother_name", "阿依古丽·买买提", today())
            .unwrap(),
        "阿依古丽·买买提"
    );
    assert_eq!(b.validate_on("child_order", "两", today()).unwrap(), "2");
    assert_eq!(
        b.validate_on("child_order", "第二个".trim_start_matches('第'), today())
            .unwrap(),
        "2"
    );
    assert!(b
        .validate_on("child_order", "十二", today())
        .unwrap_err()
        .contains("之间"));
    let r = forms.get("residence-registration").unwrap();
    assert_eq!(
        r.validate_on("housing", "租的房子", today()).unwrap(),
        "租房"
    );
    assert!(r
        .validate_on("housing", "不知道", today())
        .unwrap_err()
        .contains("租房"));
    assert!(b.validate_on("no_such_field", "x", today()).is_err());
    assert!(b
        .validate_on("mother_name", "  ", today())
        .unwrap_err()
        .contains("没听到"));
}

#[test]
fn read_back_and_materials_owed() {
    let forms = Forms::builtin().unwrap();
    let b = forms.get("birth-registration").unwrap();
    assert_eq!(
        b.field("mother_name").unwrap().read_back("王小明"),
        "母亲姓名：王小明"
    );
    let owed = b.materials_owed(today());
    let d = &b.deferred[0];
    assert_eq!(owed[0].name, d.name);
    assert_eq!((owed[0].due - today()).num_days(), i64::from(d.due_days));
    assert_eq!(
        b.missing(&["mother_name"]).len(),
        b.fields.iter().filter(|f| f.required).count() - 1
    );
}

#[test]
fn chinese_counts_parse() {
    assert_eq!(parse_count("十"), Some(10));
    assert_eq!(parse_count("三十五"), Some(35));
    assert_eq!(parse_count("十二"), Some(12));
    assert_eq!(parse_count("3个"), Some(3));
    assert_eq!(parse_count("很多"), None);
}

#[test]
fn a_filing_keeps_the_forms_field_order_and_owes_its_deferred_materials() {
    let forms = Forms::builtin().unwrap();
    let b = forms.get("birth-registration").unwrap();
    let answers: Vec<(String, String)> = [
        ("address", "3号楼502室"),
        ("no_such_field", "x"),
        ("mother_name", "王小明"),
        ("mother_name", "王小敏"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let f = b.filing(&answers, "session-1", today());
    assert_eq!(
        (f.form_id.as_str(), f.form_title.as_str()),
        ("birth-registration", "生育登记")
    );
    let names: Vec<&str> = f.fields.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        ["mother_name", "address"],
        "form order, unknown fields dropped"
    );
    assert_eq!(
        f.fields[0].value, "王小敏",
        "the last answer to a field counts"
    );
    assert_eq!(
        (f.fields[0].label.as_str(), f.fields[0].kind),
        ("母亲姓名", FieldKind::PersonName)
    );
    assert_eq!(f.materials_owed.len(), b.deferred.len());
    for (owed, d) in f.materials_owed.iter().zip(&b.deferred) {
        assert_eq!(owed.name, d.name);
        assert_eq!((owed.due - today()).num_days(), i64::from(d.due_days));
    }
    assert_eq!(
        (f.commitment.as_str(), f.session_id.as_str()),
        (b.commitment.as_str(), "session-1")
    );
}
