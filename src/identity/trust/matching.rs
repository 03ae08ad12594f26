//! Matching condition values against request values: literal (`StringEquals`) or with IAM's `*`
//! and `?` wildcards (`StringLike`), after policy variables (`${...}`) are expanded. Knows nothing
//! of claims: a variable is resolved through the lookup the caller passes in.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Lit(char),
    /// Any run of characters, '/' included.
    Star,
    /// Exactly one character.
    One,
}

/// A pattern without variables; `like` makes `*` and `?` wildcards.
pub(super) fn pieces(text: &str, like: bool) -> Vec<Piece> {
    text.chars()
        .map(|c| match c {
            '*' if like => Piece::Star,
            '?' if like => Piece::One,
            c => Piece::Lit(c),
        })
        .collect()
}

/// A condition value with its policy variables expanded; `lookup` gives a condition key's
/// request values. `None` when a variable cannot be resolved: IAM then finds no match for that
/// value.
pub(super) fn expand(
    value: &str,
    like: bool,
    variables: bool,
    lookup: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Option<Vec<Piece>> {
    if !variables {
        return Some(pieces(value, like));
    }
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.extend(pieces(&rest[..start], like));
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.extend(pieces(&rest[start..], like));
            return Some(out);
        };
        let inner = after[..end].trim();
        let literal = match inner {
            "*" | "?" | "$" => inner.to_string(),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\'').to_string())),
                    None => (inner, None),
                };
                match lookup(key) {
                    Some(vals) if vals.len() == 1 => vals[0].clone(),
                    _ => default?,
                }
            }
        };
        out.extend(literal.chars().map(Piece::Lit));
        rest = &after[end + 1..];
    }
    out.extend(pieces(rest, like));
    Some(out)
}

/// Linear-time wildcard match with single-star backtracking (no recursion, no blow-up).
pub(super) fn wildcard_match(pattern: &[Piece], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a == b || a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Piece::Star) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Piece::One) => {
                p += 1;
                t += 1;
            }
            Some(Piece::Lit(c)) if eq(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    backtrack = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|x| *x == Piece::Star)
}

/// StringLike as IAM applies it (case-sensitive, `*` and `?`, no variables): for `diagnose`.
pub fn string_like(pattern: &str, text: &str, ignore_case: bool) -> bool {
    wildcard_match(&pieces(pattern, true), text, ignore_case)
}
