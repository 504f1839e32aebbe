//! Masks for logs: what is kept of a name, an ID number, a phone number.

/// Masks an ID number for logs: first 3 and last 4 characters kept (`110***********1234`).
pub fn mask_id(id: &str) -> String {
    mask_middle(id, 3, 4)
}

/// Masks a phone number for logs: first 3 and last 4 digits kept (`138****5678`).
pub fn mask_phone(p: &str) -> String {
    mask_middle(p, 3, 4)
}

/// Masks a name for logs: `王*明`, `王*` for two characters.
pub fn mask_name(n: &str) -> String {
    let c: Vec<char> = n.chars().collect();
    match c.len() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => format!("{}*", c[0]),
        k => format!("{}{}{}", c[0], "*".repeat(k - 2), c[k - 1]),
    }
}

fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let c: Vec<char> = s.chars().collect();
    if c.len() <= head + tail {
        return "*".repeat(c.len());
    }
    let mut out: String = c[..head].iter().collect();
    out.push_str(&"*".repeat(c.len() - head - tail));
    out.extend(c[c.len() - tail..].iter());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_id("110101199003074514"), "110***********4514");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("1234567"), "*******");
        assert_eq!(mask_name("王小明"), "王*明");
        assert_eq!(mask_name("欧阳小红"), "欧**红");
        assert_eq!(mask_name("王明"), "王*");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name(""), "");
    }
}
