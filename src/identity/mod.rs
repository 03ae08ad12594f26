//! Identity: who this job is (the OIDC token's claims), whether the role's trust policy and the
//! workflow's guards admit it, why not when they do not, and the STS exchange for credentials.

pub mod claims;
pub mod diagnose;
pub mod guards;
pub mod permissions;
pub mod policygen;
pub mod sts;
pub mod trust;
