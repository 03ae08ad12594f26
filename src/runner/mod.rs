//! The GitHub runner contract: workflow commands and their escaping, masking, the files behind
//! `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_STEP_SUMMARY`, and the OIDC token request. This is
//! the only module that knows GitHub's formats.
