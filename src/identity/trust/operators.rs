//! IAM condition operator names, read into what they mean for evaluation: an optional set prefix
//! (`ForAnyValue:`/`ForAllValues:`), a base comparison, and `IfExists`. Names ignore ASCII case
//! (see `mod.rs`). An operator IAM has but this check does not evaluate is told apart from a name
//! IAM does not have, because the user fixes the two differently.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SetOp {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BaseOp {
    Equals { ignore_case: bool, negated: bool },
    Like { negated: bool },
    Null,
}

impl BaseOp {
    /// How a string operator compares, as `(like, ignore_case)`; `None` for Null, which compares
    /// nothing (it asks whether the key is present).
    pub(super) fn comparison(self) -> Option<(bool, bool)> {
        match self {
            BaseOp::Equals { ignore_case, .. } => Some((false, ignore_case)),
            BaseOp::Like { .. } => Some((true, false)),
            BaseOp::Null => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Operator {
    pub(super) set: Option<SetOp>,
    pub(super) base: BaseOp,
    pub(super) if_exists: bool,
}

/// IAM operators outside this check's reach: valid, but never used on GitHub claims in practice.
const UNSUPPORTED_IAM_OPERATORS: &[&str] = &[
    "numericequals",
    "numericnotequals",
    "numericlessthan",
    "numericlessthanequals",
    "numericgreaterthan",
    "numericgreaterthanequals",
    "dateequals",
    "datenotequals",
    "datelessthan",
    "datelessthanequals",
    "dategreaterthan",
    "dategreaterthanequals",
    "bool",
    "binaryequals",
    "ipaddress",
    "notipaddress",
    "arnequals",
    "arnlike",
    "arnnotequals",
    "arnnotlike",
];

pub(super) fn parse_operator(text: &str) -> Result<Operator, String> {
    let lower = text.to_ascii_lowercase();
    let (set, rest) = if let Some(r) = lower.strip_prefix("foranyvalue:") {
        (Some(SetOp::ForAnyValue), r)
    } else if let Some(r) = lower.strip_prefix("forallvalues:") {
        (Some(SetOp::ForAllValues), r)
    } else {
        (None, lower.as_str())
    };
    let (base_name, if_exists) = match rest.strip_suffix("ifexists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let equals = |ignore_case, negated| BaseOp::Equals {
        ignore_case,
        negated,
    };
    let base = match base_name {
        "stringequals" => equals(false, false),
        "stringnotequals" => equals(false, true),
        "stringequalsignorecase" => equals(true, false),
        "stringnotequalsignorecase" => equals(true, true),
        "stringlike" => BaseOp::Like { negated: false },
        "stringnotlike" => BaseOp::Like { negated: true },
        "null" if set.is_none() && !if_exists => BaseOp::Null,
        "null" => {
            return Err(format!(
                "{text} is not valid IAM: Null takes no ForAnyValue:/ForAllValues: or IfExists"
            ));
        }
        b if UNSUPPORTED_IAM_OPERATORS.contains(&b) => {
            return Err(format!("this check does not evaluate the {text} operator"));
        }
        _ => return Err(format!("{text} is not an IAM condition operator")),
    };
    Ok(Operator {
        set,
        base,
        if_exists,
    })
}

/// For `diagnose`: how an operator admits values. `Some((like, ignore_case))` for the
/// non-negated string operators (with any set prefix or IfExists), `None` for everything else.
pub(crate) fn admitting_operator(operator: &str) -> Option<(bool, bool)> {
    match parse_operator(operator).ok()?.base {
        BaseOp::Equals { negated: true, .. } | BaseOp::Like { negated: true } => None,
        base => base.comparison(),
    }
}

/// For `diagnose`: why an operator cannot be evaluated, if it cannot.
pub(crate) fn operator_problem(operator: &str) -> Option<String> {
    parse_operator(operator).err()
}
