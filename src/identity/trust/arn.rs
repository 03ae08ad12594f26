//! ARNs taken apart: the fields every ARN has, and the IAM OIDC provider ARN a `Federated`
//! principal names. One splitter serves both this module and `diagnose` (which reads the role's
//! partition and account), so the two cannot disagree on what an ARN's account is.

/// `arn:partition:service:region:account[:resource]`, borrowed from the ARN text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArnFields<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// Everything after the account, colons included; `None` when the ARN stops there.
    pub resource: Option<&'a str>,
}

/// `None` unless the text starts with `arn` and has at least the five fields up to the account.
pub(crate) fn arn_fields(arn: &str) -> Option<ArnFields<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    Some(ArnFields {
        partition: parts.next()?,
        service: parts.next()?,
        region: parts.next()?,
        account: parts.next()?,
        resource: parts.next(),
    })
}

/// An IAM OIDC provider ARN taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderArn {
    pub partition: String,
    pub account: String,
    /// e.g. `token.actions.githubusercontent.com` or `.../octo-enterprise`.
    pub provider: String,
}

pub fn parse_provider_arn(arn: &str) -> Option<ProviderArn> {
    let fields = arn_fields(arn)?;
    let provider = fields.resource?.strip_prefix("oidc-provider/")?;
    let ok = fields.partition.starts_with("aws")
        && fields.service == "iam"
        && fields.region.is_empty()
        && !fields.account.is_empty();
    ok.then(|| ProviderArn {
        partition: fields.partition.into(),
        account: fields.account.into(),
        provider: provider.into(),
    })
}
